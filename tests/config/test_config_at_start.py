"""Config that can only be checked as the host starts: the run database can be opened,
and every tool fallback names a loaded function."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from host import AgentHost
from host.errors import ConfigError

pytestmark = pytest.mark.reliability

MODEL = "models:\n  main:\n    provider: scripted\n    model: s1\n"
CLOCK = MODEL + "plugins:\n  modules: [plugins.clock]\n"


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "host.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def unusable_file(path: Path) -> Path:
    path.write_text("not a database, just text\n" * 100)
    return path


BAD_DATABASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "a directory": (lambda tmp: tmp, "unable to open database file"),
    "under a regular file": (
        lambda tmp: unusable_file(tmp / "file.txt") / "runs.sqlite3",
        "cannot create the folder of",
    ),
    "not a database": (lambda tmp: unusable_file(tmp / "runs.sqlite3"), "file is not a database"),
}


@pytest.mark.parametrize("case", list(BAD_DATABASES))
def test_unusable_run_database_names_the_key_and_path(tmp_path: Path, case: str) -> None:
    make, reason = BAD_DATABASES[case]
    database = make(tmp_path)
    config = write_config(tmp_path, MODEL + f"runs:\n  database: {database}\n")
    with pytest.raises(ConfigError) as raised:
        AgentHost(config).start()
    [problem] = raised.value.problems
    assert problem.startswith("runs.database: ") and str(database) in problem
    assert reason in problem


def test_tool_fallback_to_an_unknown_function_fails_at_start(tmp_path: Path) -> None:
    config = write_config(
        tmp_path, CLOCK + "tools:\n  clock.today:\n    fallback: [clock.yesterday, clock.nope]\n"
    )
    with pytest.raises(ConfigError) as raised:
        AgentHost(config).start()
    assert raised.value.problems == [
        f"{config}:9: tools.clock.today.fallback: 'clock.nope' is not a loaded function"
    ]


async def test_tool_fallback_to_a_loaded_function_starts(tmp_path: Path) -> None:
    config = write_config(
        tmp_path, CLOCK + "tools:\n  clock.today:\n    fallback: clock.yesterday\n"
    )
    async with AgentHost(config) as host:
        assert host.function("clock.today").name == "clock.today"
