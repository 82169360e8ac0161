"""A host whose hosted model answers 401 with a message that repeats a secret.

Registered secrets stay registered for the rest of the process, so each test
makes its own (:func:`new_secret`): one test's secret never hides another's leak.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import NamedTuple

from host.testing import HttpError
from tests.conftest import ROOT

KEY_VARIABLE = "SENTINEL_TEST_KEY"
OTHER_VARIABLE = "SENTINEL_TEST_TOKEN"

PROMPT = 'name: Echo\ntemplate: "Say {{$input}}"\ndescription: Say something.\n'


def new_secret() -> str:
    """A value no other test uses and no output could hold by chance."""
    return f"sk-SENTINEL-{uuid.uuid4().hex}"


def rejected(secret: str) -> HttpError:
    """401 whose message quotes ``secret``, as some servers quote the key they were sent."""
    error = {
        "message": f"Incorrect API key provided: {secret}",
        "type": "invalid_request_error",
        "code": "invalid_api_key",
    }
    return HttpError(401, {"error": error})


class Placement(NamedTuple):
    """Where the secret lives: the process environment or ``.env``, as the model's key or not."""

    name: str
    in_dotenv: bool
    as_key: bool

    def variables(self, secret: str) -> tuple[dict[str, str], dict[str, str]]:
        """The variables to set in the environment, and those to write to ``.env``."""
        given = {KEY_VARIABLE: secret} if self.as_key else {OTHER_VARIABLE: secret}
        key = {} if self.as_key else {KEY_VARIABLE: "sk-not-the-secret"}
        return (key, given) if self.in_dotenv else ({**key, **given}, {})


PLACEMENTS = [
    Placement("key in the environment", in_dotenv=False, as_key=True),
    Placement("key in .env", in_dotenv=True, as_key=True),
    Placement("other .env value", in_dotenv=True, as_key=False),
]


def write_host(folder: Path, base_url: str, dotenv: dict[str, str]) -> Path:
    """``host.yaml`` in ``folder`` (and ``dotenv`` as its ``.env``): model ``hosted`` at
    ``base_url``, a scripted ``local`` one, ``talk.Echo``; runs in ``runs.sqlite3``."""
    prompts = folder / "prompts" / "talk"
    prompts.mkdir(parents=True)
    (prompts / "echo.yaml").write_text(PROMPT)
    if dotenv:
        (folder / ".env").write_text("".join(f"{k}={v}\n" for k, v in dotenv.items()))
    config = folder / "host.yaml"
    config.write_text(
        "models:\n"
        "  hosted:\n    provider: openai\n    model: gpt-test\n"
        f"    base_url: {base_url}\n    api_key_env: {KEY_VARIABLE}\n"
        "    cost: {input: 5.0, output: 5.0}\n"
        "  local:\n    provider: scripted\n    model: s\n    options: {replies: [hello]}\n"
        f"plugins:\n  directories: [{ROOT / 'plugins'}]\n"
        "prompts:\n  directories: [prompts]\n"
        "runs:\n  database: runs.sqlite3\n"
        "resilience:\n  retries: 0\n",
        encoding="utf-8",
    )
    return config


def files_holding(folder: Path, secret: str) -> list[str]:
    """Every file under ``folder`` but ``.env`` whose bytes contain ``secret``."""
    return [
        str(path.relative_to(folder))
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != ".env" and secret.encode() in path.read_bytes()
    ]
