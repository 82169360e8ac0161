"""A message that quotes a huge value quotes its start and says how long it was."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from host import AgentHost
from host.errors import quoted
from tests.conftest import ROOT

pytestmark = pytest.mark.reliability

LONG = "x" * 100_000
"""As long as one command-line argument may be (Linux caps each at 128 KiB)."""

SHOWN = 1000
"""The longest a message quoting one such value may be, with the words around it."""


def test_quoted_keeps_short_values_and_cuts_long_ones() -> None:
    assert quoted("Asia/Shanghai") == "'Asia/Shanghai'"
    assert quoted(LONG) == f"'{'x' * 199}… (100002 characters)"


@pytest.mark.parametrize(
    "arguments",
    [
        ["clock.today", f"timezone:={json.dumps([LONG])}"],  # host.arguments: not a str
        ["clock.today", f"timezone={LONG}"],  # the plugin: no such time zone
        ["clock.resolve_date", f"expression={LONG}"],  # the plugin: not a date
        ["clock.today", LONG],  # the command line: not KEY=VALUE
    ],
    ids=["mistyped argument", "unknown zone", "not a date", "not an argument"],
)
def test_invoke_quotes_a_huge_argument_short(scripted_config: Path, arguments: list[str]) -> None:
    options = ["--config", str(scripted_config), "--plugins-dir", str(ROOT / "plugins")]
    result = subprocess.run(
        [sys.executable, "-m", "host", "invoke", *arguments, *options],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    (line,) = result.stderr.splitlines()
    assert result.returncode != 0 and line.startswith("error: ")
    assert len(line) < SHOWN and "… (1000" in line


def plan_with(arguments: dict[str, Any], **plan: Any) -> dict[str, Any]:
    step = {"id": "s1", "function": "clock.today", "arguments": arguments, "capability": "fetch"}
    return {"steps": [step], **plan}


@pytest.mark.parametrize(
    "plan",
    [
        plan_with({"timezone": ["x" * 1_000_000]}),
        plan_with({"timezone": {"$ref": "x" * 1_000_000}}),
        plan_with({}, output="x" * 1_000_000),
    ],
    ids=["mistyped argument", "malformed reference", "unknown output step"],
)
async def test_a_plan_problem_quotes_a_huge_value_short(
    scripted_config: Path, plan: dict[str, Any]
) -> None:
    async with AgentHost(scripted_config, plugin_dirs=[ROOT / "plugins"]) as host:
        result = await host.execute(plan)
    assert result.status == "failed" and result.error is not None
    assert len(result.error) < SHOWN and "(1000" in result.error
