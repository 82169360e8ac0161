"""Through the Python API, a secret a provider repeats in its error shows up nowhere."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from secrets_kit import PLACEMENTS, Placement, files_holding, new_secret, rejected, write_host

from host import AgentHost
from host.errors import ProviderError
from host.testing import OpenAICompatibleServer

pytestmark = pytest.mark.reliability

PLAN = {
    "steps": [
        {
            "id": "greet",
            "function": "talk.Echo",
            "arguments": {"input": "hi"},
            "capability": "write",
        }
    ]
}
"""Routed to ``hosted`` (the strongest writer), which fails over to ``local``."""

VALIDATION = "validation:\n  talk.Echo:\n    regex: '^OK'\n    on_fail: [human]\n"
"""``local``'s answer fails it, so the run pauses and its records go to runs.database."""


@pytest.fixture(params=PLACEMENTS, ids=lambda placement: placement.name)
def dotenv(
    request: pytest.FixtureRequest, secret: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> dict[str, str]:
    """``.env`` values for the secret's placement; the environment ones are set."""
    placement: Placement = request.param
    environment, dotenv = placement.variables(secret)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # the host reads .env from the working directory
    return dotenv


@pytest.fixture
def secret() -> str:
    return new_secret()


def dumped(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


async def test_a_failed_invoke_shows_the_secret_nowhere(
    secret: str, dotenv: dict[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with OpenAICompatibleServer([rejected(secret)], default=None) as server:
        config = write_host(tmp_path, server.base_url, dotenv)
        async with AgentHost(config) as host:
            with pytest.raises(ProviderError) as raised:
                await host.invoke("talk.Echo", input="hi", model="hosted")

    error = raised.value
    assert error.status == 401 and "Incorrect API key provided: ***" in str(error)
    assert error.step is not None and error.step.error == str(error)
    shown = [str(error), error.reason, dumped(error.step.to_dict()), caplog.text]
    shown += [record.getMessage() for record in caplog.records]
    assert [text for text in shown if secret in text] == []
    assert files_holding(tmp_path, secret) == []


async def test_a_paused_run_stores_and_returns_no_secret(
    secret: str, dotenv: dict[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with OpenAICompatibleServer([rejected(secret)], default=None) as server:
        config = write_host(tmp_path, server.base_url, dotenv)
        config.write_text(config.read_text() + VALIDATION)
        async with AgentHost(config) as host:
            result = await host.execute(PLAN, "greet")

    assert result.status == "needs_human"
    (attempt, *_) = [e for e in result.steps[0].events if e.kind == "attempt" and e.error]
    assert attempt.model == "hosted" and "Incorrect API key provided: ***" in str(attempt.error)
    shown = [dumped(result.to_dict()), caplog.text]
    assert [text for text in shown if secret in text] == []
    assert files_holding(tmp_path, secret) == []


async def test_an_output_that_repeats_the_secret_is_stored_masked(
    secret: str, dotenv: dict[str, str], tmp_path: Path
) -> None:
    async with OpenAICompatibleServer([rejected(secret)], default=None) as server:
        config = write_host(tmp_path, server.base_url, dotenv)
        text = config.read_text().replace("replies: [hello]", f"replies: ['key is {secret}']")
        config.write_text(text + VALIDATION)
        async with AgentHost(config) as host:
            result = await host.execute(PLAN, "greet")

    assert result.status == "needs_human"
    assert (tmp_path / "runs.sqlite3").is_file()
    assert files_holding(tmp_path, secret) == ["host.yaml"]  # only where the test put it
