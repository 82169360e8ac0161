"""A host that records its runs in ``runs.sqlite3``: a routed prompt step, a tool that always
fails (one retry, then a fallback hop that fails too), and a prompt that hands off."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import ROOT

PROMPT = 'name: Echo\ntemplate: "Say {{$input}}"\ndescription: Say something.\n'

COUNTS = """\
from host.testing import Fail, FaultyTool


class FlakyCount(FaultyTool):
    plugin_name = "flaky"

    def __init__(self) -> None:
        super().__init__(Fail(ConnectionError("backend down")))


class SpareCount(FaultyTool):
    plugin_name = "spare"

    def __init__(self) -> None:
        super().__init__(Fail(TimeoutError("spare busy")))
"""


def write_config(
    tmp_path: Path, *, replies: tuple[str, ...] = ("hello",), models: str = "", extra: str = ""
) -> Path:
    """``host.yaml``: model ``local`` (cost 1 and 2 per 1,000 tokens) answering ``replies``
    (and ``models``, more rows of the table), the shipped plugins, ``flaky.count`` falling
    back to ``spare.count``, ``talk.Echo``, and ``extra`` YAML."""
    (tmp_path / "prompts" / "talk").mkdir(parents=True)
    (tmp_path / "prompts" / "talk" / "echo.yaml").write_text(PROMPT)
    (tmp_path / "counts").mkdir()
    (tmp_path / "counts" / "counts.py").write_text(COUNTS)
    config = tmp_path / "host.yaml"
    config.write_text(
        "models:\n  local:\n    provider: scripted\n    model: s\n"
        f"    options: {{replies: {list(replies)}}}\n"
        "    cost: {input: 1.0, output: 2.0}\n"
        + models
        + f"plugins:\n  directories: [{ROOT / 'plugins'}, counts]\n"
        "prompts:\n  directories: [prompts]\n"
        "tools:\n  flaky:\n    retries: 1\n    fallback: [spare.count]\n"
        "resilience:\n  backoff_initial: 1ms\n"
        "runs:\n  database: runs.sqlite3\n" + extra
    )
    return config


def step(step_id: str, function: str, after: str | None = None, **arguments: Any) -> dict[str, Any]:
    """A plan step; ``after`` is a step it depends on."""
    return {
        "id": step_id,
        "function": function,
        "arguments": arguments,
        "capability": "write" if function == "talk.Echo" else "fetch",
        "depends_on": [after] if after else [],
    }


OK_PLAN = {
    "steps": [
        step("day", "clock.resolve_date", expression="2026-06-21"),
        step("greet", "talk.Echo", "day", input={"$ref": "steps.day.output"}),
    ],
    "output": "greet",
}
"""A native step, then a prompt step routed to ``local``."""

FAILING_PLAN = {
    "steps": [
        step("day", "clock.resolve_date", expression="2026-06-21"),
        step("count", "flaky.count", "day", query={"$ref": "steps.day.output"}),
    ]
}
"""``count`` fails twice on ``flaky.count``, then on its fallback ``spare.count``."""

HANDOFF = "validation:\n  talk.Echo:\n    regex: '^OK'\n    on_fail: [human]\n"
"""``talk.Echo``'s answer must start with OK, else a person is asked."""
