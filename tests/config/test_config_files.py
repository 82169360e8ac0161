"""Config, workflow and ``.env`` files are read safely: only regular UTF-8 files within
a size bound, YAML aliases bounded, and every refusal one line naming the file, never
quoting it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from host.config import load_config
from host.config.loader import MAX_FILE_BYTES
from host.errors import ConfigError
from host.workflows import load_workflow
from tests.conftest import ROOT

pytestmark = pytest.mark.reliability

SECRET = "sk-do-not-echo-1234"
MODEL = "models:\n  main:\n    provider: scripted\n    model: s1\n"


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def billion_laughs() -> str:
    """Nine levels of ten aliases each: 10**9 nodes once expanded."""
    lines = ['    l0: &l0 ["lol"]']
    for level in range(1, 10):
        aliases = ", ".join([f"*l{level - 1}"] * 10)
        lines.append(f"    l{level}: &l{level} [{aliases}]")
    return MODEL + "    options:\n" + "\n".join(lines) + "\n"


def write_bytes(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)


BAD_FILES: dict[str, tuple[Callable[[Path], None], list[str]]] = {
    "not UTF-8": (
        write_bytes(f"# key {SECRET}\n".encode() + b"name: caf\xe9\n"),
        [":2: ", "not UTF-8 (byte offset 35)", "save it as UTF-8"],
    ),
    "UTF-16 with BOM": (
        write_bytes(f"# {SECRET}\nname: x\n".encode("utf-16")),
        ["is UTF-16; save it as UTF-8"],
    ),
    "UTF-16 without BOM": (
        write_bytes(f"# {SECRET}\n".encode("utf-16-le")),
        [":1: ", "not UTF-8 (byte offset 1)"],
    ),
    "larger than the bound": (
        write_bytes(f"# {SECRET}\n".encode().ljust(MAX_FILE_BYTES + 1, b"#")),
        ["larger than 1 MiB"],
    ),
    "a FIFO": (os.mkfifo, ["not a regular file"]),
    "a character device": (
        lambda path: path.symlink_to("/dev/zero"),
        ["not a regular file"],
    ),
    "a directory": (Path.mkdir, ["not a regular file"]),
    "an alias bomb": (
        lambda path: path.write_text(billion_laughs(), encoding="utf-8"),
        [":12: ", "expand to more than 1,000,000 nodes"],
    ),
    "a recursive alias": (
        lambda path: path.write_text(MODEL + "    options: &loop {self: *loop}\n"),
        [":5: ", "alias refers to a collection that contains it"],
    ),
    "nesting deeper than the parser goes": (
        lambda path: path.write_text(MODEL + f"    options: {{deep: {nested(5000)}}}\n"),
        ["YAML nested too deeply"],
    ),
}

LOADERS: dict[str, Callable[[Path], object]] = {"config": load_config, "workflow": load_workflow}


@pytest.mark.parametrize("kind", list(LOADERS))
@pytest.mark.parametrize("case", list(BAD_FILES))
def test_unreadable_file_is_one_clear_error(tmp_path: Path, case: str, kind: str) -> None:
    make, fragments = BAD_FILES[case]
    path = tmp_path / "bad.yaml"
    make(path)
    with pytest.raises(ConfigError) as raised:
        LOADERS[kind](path)
    message = str(raised.value)
    assert len(raised.value.problems) == 1
    assert message.startswith(f"{path}:")
    for fragment in fragments:
        assert fragment in message
    assert SECRET not in message and "lol" not in message


def test_merge_keys_and_small_aliases_load(tmp_path: Path) -> None:
    path = tmp_path / "host.yaml"
    path.write_text(
        "models:\n"
        "  main: &main\n    provider: scripted\n    model: s1\n    retries: 2\n"
        "    capabilities: &caps [write, extract]\n"
        "  backup:\n    <<: *main\n    model: s2\n    capabilities: *caps\n",
        encoding="utf-8",
    )
    backup = load_config(path).config.models["backup"]
    assert (backup.provider, backup.model, backup.retries) == ("scripted", "s2", 2)
    assert backup.capabilities == ["write", "extract"]


def test_a_key_repeated_beside_a_merge_is_still_an_error(tmp_path: Path) -> None:
    path = tmp_path / "host.yaml"
    path.write_text(
        MODEL.replace("  main:", "  main: &main")
        + "  backup:\n    <<: *main\n    model: s2\n    model: s3\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"host.yaml:8: duplicate key 'model' \(first at line 7"):
        load_config(path)


def test_dotenv_with_a_bad_byte_names_the_line_not_the_secret(tmp_path: Path) -> None:
    config = tmp_path / "host.yaml"
    config.write_text(MODEL, encoding="utf-8")
    dotenv = tmp_path / ".env"
    dotenv.write_bytes(f"OPENAI_API_KEY={SECRET}\n".encode() + b"CITY=Z\xfcrich\n")
    with pytest.raises(ConfigError) as raised:
        load_config(config, dotenv=dotenv)
    assert raised.value.problems == [
        f"{dotenv}:2: .env file is not UTF-8 (byte offset 41); save it as UTF-8"
    ]


@pytest.mark.parametrize(
    ("dotenv", "config"),
    [
        (f"OPENAI_API_KEY={SECRET}\n".encode() + b"X=\xff\n", MODEL.encode()),
        (f"OPENAI_API_KEY={SECRET}\n".encode(), f"# {SECRET}\n{MODEL}".encode("utf-16")),
    ],
    ids=["bad .env", "UTF-16 config"],
)
def test_cli_reports_a_bad_file_without_echoing_it(
    tmp_path: Path, dotenv: bytes, config: bytes
) -> None:
    (tmp_path / ".env").write_bytes(dotenv)
    (tmp_path / "host.yaml").write_bytes(config)
    result = subprocess.run(
        [sys.executable, "-m", "host", "plugins", "--config", "host.yaml"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT), "OPENAI_API_KEY": ""},
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "save it as UTF-8" in result.stderr and SECRET not in result.stderr
