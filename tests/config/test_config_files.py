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


UNPARSABLE_DOTENV: dict[str, tuple[str, list[str]]] = {
    "a double quote left open, a later one closing it": (
        f'# keys\n\nOPENAI_API_KEY="{SECRET}\nCITY=Zurich\nOTHER="x"\n',
        [":3: cannot parse this line (unterminated quote?)"],
    ),
    "a single quote never closed, after blank lines": (
        f"CITY=Zurich\r\n\r\n\r\nOPENAI_API_KEY='{SECRET}\r\nOTHER=x\r\n",
        [":4: cannot parse this line (unterminated quote?)"],
    ),
    "no equals sign, and a name missing": (
        f"CITY=Zurich\nOPENAI_API_KEY {SECRET}\n={SECRET}\n",
        [
            ":2: cannot parse this line (expected NAME=value)",
            ":3: cannot parse this line (expected NAME=value)",
        ],
    ),
    "text after a closed quote": (
        f'OPENAI_API_KEY="{SECRET}" {SECRET}\n',
        [":1: cannot parse this line (expected NAME=value)"],
    ),
}


@pytest.mark.parametrize("case", list(UNPARSABLE_DOTENV))
def test_dotenv_line_python_dotenv_cannot_parse_is_named_not_quoted(
    tmp_path: Path, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    text, expected = UNPARSABLE_DOTENV[case]
    config = tmp_path / "host.yaml"
    config.write_text(MODEL, encoding="utf-8")
    dotenv = tmp_path / ".env"
    dotenv.write_bytes(text.encode())
    with pytest.raises(ConfigError) as raised:
        load_config(config, dotenv=dotenv)
    assert raised.value.problems == [f"{dotenv}{problem}" for problem in expected]
    assert SECRET not in str(raised.value)
    assert not [record for record in caplog.records if record.name.startswith("dotenv")]


def test_extension_fields_are_left_unread_and_their_anchors_merge(tmp_path: Path) -> None:
    path = tmp_path / "host.yaml"
    path.write_text(
        "x-notes: ${NOT_SET_ANYWHERE}\n"
        "x-base: &base {provider: scripted, model: s1, retries: 2}\n"
        "models:\n  main: {<<: *base, model: s2}\n",
        encoding="utf-8",
    )
    main = load_config(path, dotenv=tmp_path / "none.env").config.models["main"]
    assert (main.provider, main.model, main.retries) == ("scripted", "s2", 2)


def test_a_problem_in_a_merged_key_is_placed_where_the_key_is_written(tmp_path: Path) -> None:
    path = tmp_path / "host.yaml"
    path.write_text(
        "x-base: &base {provider: scripted, model: s1, retries: -1}\n"
        "x-mid: &mid\n  <<: *base\n  retries: -2\n"
        "models:\n"
        "  main: {<<: *base, model: s2}\n"
        "  kept:\n    <<: *mid\n    model: s3\n    retries: -3\n"
        "  nested: {<<: *mid}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as raised:
        load_config(path, dotenv=tmp_path / "none.env")
    assert [problem.split(" (got")[0] for problem in raised.value.problems] == [
        f"{path}:1: models.main.retries: Input should be greater than or equal to 0",
        f"{path}:10: models.kept.retries: Input should be greater than or equal to 0",
        f"{path}:4: models.nested.retries: Input should be greater than or equal to 0",
    ]


@pytest.mark.parametrize(
    ("dotenv", "config", "expected"),
    [
        (f"OPENAI_API_KEY={SECRET}\n".encode() + b"X=\xff\n", MODEL.encode(), "save it as UTF-8"),
        (
            f"OPENAI_API_KEY={SECRET}\n".encode(),
            f"# {SECRET}\n{MODEL}".encode("utf-16"),
            "save it as UTF-8",
        ),
        (
            f'OPENAI_API_KEY="{SECRET}\nCITY=Zurich\n'.encode(),
            MODEL.encode(),
            ".env:1: cannot parse this line (unterminated quote?)",
        ),
    ],
    ids=["bad .env", "UTF-16 config", "unterminated quote in .env"],
)
def test_cli_reports_a_bad_file_without_echoing_it(
    tmp_path: Path, dotenv: bytes, config: bytes, expected: str
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
    assert expected in result.stderr and SECRET not in result.stderr
