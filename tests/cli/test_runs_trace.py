"""``agent-host runs`` and ``agent-host trace`` on runs recorded by a host, as real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

from host import AgentHost
from host.testing import VirtualClock
from host.workflows import WorkflowBuilder, ref
from tests.conftest import ROOT
from tests.runs.runs_kit import FAILING_PLAN, HANDOFF, OK_PLAN, write_config


def agent_host(
    *args: str, colour: bool = False, probe: str | None = None
) -> subprocess.CompletedProcess[str]:
    """The CLI in a 200-column terminal (ANSI colours if ``colour``)."""
    environment = {**os.environ, "COLUMNS": "200"}
    environment.pop("NO_COLOR", None)
    if colour:
        environment["FORCE_COLOR"] = "1"
    command = ["-c", probe] if probe else ["-m", "host", *args]
    return subprocess.run(
        [sys.executable, *command],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environment,
        timeout=60,
        check=False,
    )


class Recorded(NamedTuple):
    """The config of a database holding four runs, oldest first."""

    config: Path
    ok: str
    failed: str
    waiting: str
    workflow: str


@pytest.fixture
async def recorded(tmp_path: Path) -> Recorded:
    config = write_config(tmp_path, replies=("OK, hello", "hi"), extra=HANDOFF)
    workflow = (
        WorkflowBuilder("dates", inputs=["day"])
        .step("date", "clock.resolve_date", {"expression": ref("state.day")})
        .build()
    )
    async with AgentHost(config, clock=VirtualClock()) as host:
        ok = await host.execute(OK_PLAN, "greet the day")
        failed = await host.execute(FAILING_PLAN, "count the day")
        waiting = await host.execute(OK_PLAN, "greet again")
        dated = await host.run_workflow(workflow, {"day": "2026-06-21"})
    statuses = [run.status for run in (ok, failed, waiting, dated)]
    assert statuses == ["ok", "failed", "needs_human", "ok"]
    return Recorded(config, ok.run_id, failed.run_id, waiting.run_id, dated.run_id)


def listed(recorded: Recorded, *options: str) -> list[str]:
    result = agent_host("runs", "--json", "--config", str(recorded.config), *options)
    assert result.returncode == 0, result.stderr
    return [run["run_id"] for run in json.loads(result.stdout)]


def test_runs_lists_every_run_newest_first_with_its_figures(recorded: Recorded) -> None:
    result = agent_host("runs", "--json", "--config", str(recorded.config))
    runs = json.loads(result.stdout)
    newest_first = [recorded.workflow, recorded.waiting, recorded.failed, recorded.ok]
    assert [run["run_id"] for run in runs] == newest_first
    ok = runs[-1]
    assert (ok["request"], ok["status"], ok["kind"]) == ("greet the day", "ok", "plan")
    assert ok["cost"] > 0 and ok["duration_ms"] >= 0 and "steps" not in ok
    assert (runs[0]["kind"], runs[0]["name"]) == ("workflow", "dates")


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--status", "failed"], ["failed"]),
        (["--status", "needs_human"], ["waiting"]),
        (["--limit", "2"], ["workflow", "waiting"]),
        (["--status", "round_limit"], []),
    ],
)
def test_runs_filters_by_status_and_limit(
    recorded: Recorded, options: list[str], expected: list[str]
) -> None:
    assert listed(recorded, *options) == [getattr(recorded, name) for name in expected]


def test_runs_prints_a_table_of_short_ids(recorded: Recorded) -> None:
    result = agent_host("runs", "--config", str(recorded.config))
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["RUN", "STARTED", "(UTC)", "REQUEST", "STATUS", "DURATION", "COST"]
    failed = rows[2].split()
    assert failed[0] == recorded.failed[:10] and "count" in failed and "failed" in failed


def test_trace_of_a_failed_run_says_why_first_and_shows_the_failure_in_red(
    recorded: Recorded,
) -> None:
    result = agent_host("trace", recorded.failed, "--config", str(recorded.config), colour=True)
    assert result.returncode == 0, result.stderr
    why = "\x1b[1;31mwhy: step 'count' (flaky.count) failed after 2 attempt(s) and fallback "
    assert result.stdout.startswith(why + "spare.count (error): FunctionFailedError: ")
    assert "\x1b[1;31mcount\x1b[0m" in result.stdout  # the failed step's id
    assert "\x1b[1mday\x1b[0m" in result.stdout  # the step that worked, not red


def test_trace_shows_each_attempt_and_the_hop_with_its_own_attempt(recorded: Recorded) -> None:
    result = agent_host("trace", recorded.failed, "--config", str(recorded.config))
    lines = result.stdout.splitlines()
    assert lines[1].startswith(f"run {recorded.failed}  plan  failed  ")
    count = next(index for index, line in enumerate(lines) if "✗ count  flaky.count" in line)
    inside = [line.split("──", 1)[1].strip() for line in lines[count + 1 : count + 6]]
    assert [line.split("  ")[:2] for line in inside] == [
        ["attempt 1 flaky.count", "error"],
        ["attempt 2 flaky.count", "error"],
        ["fallback hop → spare.count", "error"],
        ["attempt 1 spare.count", "error"],  # the hop's own attempt, one level deeper
        ["error: FunctionFailedError: spare.count failed: TimeoutError: spare busy"],
    ]
    assert lines[count + 4].index("└") > lines[count + 3].index("├")


def test_trace_of_an_ok_run_shows_the_route_tokens_and_cost_of_its_prompt_step(
    recorded: Recorded,
) -> None:
    result = agent_host("trace", recorded.ok[:8], "--config", str(recorded.config))
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"run {recorded.ok}  plan  ok  ")
    greet = next(line for line in lines if "✓ greet  talk.Echo  ok" in line)
    assert "local (scripted/s)" in greet and "tokens " in greet and "cost " in greet
    assert any("route: local — " in line for line in lines)
    assert any("validation talk.Echo  ok" in line for line in lines)


def test_trace_of_a_waiting_run_says_what_it_waits_for(recorded: Recorded) -> None:
    result = agent_host("trace", recorded.waiting, "--config", str(recorded.config))
    assert result.stdout.startswith("waiting for a person at step 'greet': ")
    assert "on_fail human  waiting" in result.stdout


def test_trace_last_is_the_newest_run(recorded: Recorded) -> None:
    result = agent_host("trace", "--last", "--config", str(recorded.config))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"run {recorded.workflow}  workflow dates  ok  ")


def test_trace_json_holds_every_record_and_event(recorded: Recorded) -> None:
    result = agent_host("trace", recorded.failed, "--json", "--config", str(recorded.config))
    run = json.loads(result.stdout)
    assert run["run_id"] == recorded.failed and run["status"] == "failed"
    kinds = [event["kind"] for event in run["steps"][1]["events"]]
    assert kinds == ["attempt", "attempt", "attempt", "fallback"]


@pytest.mark.parametrize("run_id", ["0123456789abcdef", "01234"], ids=["unknown", "too short"])
def test_trace_of_an_unknown_run_is_one_line_and_status_1(recorded: Recorded, run_id: str) -> None:
    result = agent_host("trace", run_id, "--config", str(recorded.config))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: no recorded run {run_id!r} (give a run id or its first 6 or more characters, "
        "unique among the runs; agent-host runs lists them)"
    ]


def test_trace_last_with_no_run_recorded_is_status_1(tmp_path: Path) -> None:
    result = agent_host("trace", "--last", "--config", str(write_config(tmp_path)))
    assert (result.returncode, result.stderr) == (1, "error: no run is recorded yet\n")


@pytest.mark.parametrize(
    ("command", "status", "said"),
    [
        (["runs"], 0, "no run recorded\n"),
        (["trace", "--last"], 1, "error: no run is recorded yet\n"),
        (["trace", "abcdef"], 1, "error: no run is recorded yet\n"),
    ],
)
def test_reading_runs_before_any_creates_no_database(
    tmp_path: Path, command: list[str], status: int, said: str
) -> None:
    """Kills: ``runs`` and ``trace``, which only read, creating the database (and its
    folder) they were pointed at."""
    config = write_config(tmp_path)
    result = agent_host(*command, "--config", str(config))
    assert (result.returncode, result.stdout + result.stderr) == (status, said)
    assert not (tmp_path / "runs.sqlite3").exists()


@pytest.mark.parametrize("command", [["runs"], ["trace", "--last"]])
def test_a_runs_database_that_is_not_one_is_named_in_one_line_and_status_2(
    tmp_path: Path, command: list[str]
) -> None:
    config = write_config(tmp_path)
    (tmp_path / "runs.sqlite3").write_text("notes, not a database\n" * 200)
    result = agent_host(*command, "--config", str(config))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines() == [
        f"error: runs.database: cannot open {tmp_path / 'runs.sqlite3'} (file is not a database)"
    ]


def test_a_limit_past_sqlites_integers_lists_every_run(recorded: Recorded) -> None:
    assert len(listed(recorded, "--limit", str(2**64))) == 4


def test_runs_of_an_in_memory_database_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "host.yaml"
    config.write_text(
        "models: {m: {provider: scripted, model: s}}\nruns:\n  database: ':memory:'\n"
    )
    result = agent_host("runs", "--config", str(config))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: {config}:3: runs.database: ':memory:' keeps runs")


@pytest.mark.parametrize(
    ("argv", "loaded"),
    [(["--help"], set()), (["runs", "--json"], set()), (["trace", "--last"], {"rich"})],
    ids=["help", "runs json", "trace"],
)
def test_only_the_tree_and_table_import_rich_and_none_imports_semantic_kernel(
    recorded: Recorded, argv: list[str], loaded: set[str]
) -> None:
    """Listing and tracing read SQLite only; ``--help`` (start-up time) imports no rich."""
    if argv != ["--help"]:
        argv = [*argv, "--config", str(recorded.config)]
    probe = (
        "import contextlib, io, json, sys\nfrom host.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        f"    main({argv!r})\n"
        "print(json.dumps(sorted({'rich', 'semantic_kernel'} & set(sys.modules))))"
    )
    result = agent_host(probe=probe)
    assert result.returncode == 0, result.stderr
    assert set(json.loads(result.stdout)) == loaded


def test_ctrl_c_while_spans_are_flushed_at_the_end_is_interrupted_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI flushes the spans itself (an exporter may wait seconds for its endpoint), not
    in the exit hook, where Ctrl-C printed a traceback and the status stayed 0."""
    from host import cli
    from host.telemetry import setup

    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(setup, "shutdown", interrupted)
    assert cli.main(["runs", "--config", str(write_config(tmp_path))]) == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_a_logged_error_is_one_line_without_its_traceback_unless_debug() -> None:
    probe = (
        "import logging, sys\nfrom host.cli import _configure_logging\n"
        "_configure_logging(sys.argv[1] == 'debug')\n"
        "try:\n    int('abc')\nexcept ValueError:\n"
        "    logging.getLogger('opentelemetry').exception('Unable to parse')\n"
    )
    brief, debug = (
        subprocess.run(
            [sys.executable, "-c", probe, mode], capture_output=True, text=True, check=True
        ).stderr
        for mode in ("", "debug")
    )
    assert brief == (
        "ERROR: Unable to parse (ValueError: invalid literal for int() with base 10: 'abc')\n"
    )
    assert debug.startswith("ERROR: Unable to parse\nTraceback (most recent call last):")


async def test_a_step_whose_model_failed_names_the_model_without_a_provider(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path, replies=())
    async with AgentHost(config) as host:
        failed = await host.execute(OK_PLAN, "greet the day")
    result = agent_host("trace", failed.run_id, "--config", str(config))
    greet = next(line for line in result.stdout.splitlines() if "✗ greet" in line)
    assert "None" not in greet and greet.split("  ")[-1].startswith("local")
