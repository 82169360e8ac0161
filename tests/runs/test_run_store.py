"""Every run is recorded in runs.database: plans, workflows, failures, hand-offs and resumes."""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from host import AgentHost, ConfigError, load_config, run_store
from host.idempotency import IdempotencyStore
from host.run_store import RecordedRun, RunStore
from host.state import CallEvent, RunResult, RunStatus, StepRecord
from host.testing import Reply, ScriptedChatCompletion, VirtualClock
from host.workflows import WorkflowBuilder, ref
from tests.runs.runs_kit import FAILING_PLAN, HANDOFF, OK_PLAN, step, write_config
from tests.secrets.secrets_kit import files_holding, new_secret


def stored(config: Path, run_id: str) -> RecordedRun:
    """The run ``run_id`` as another process would read it from the config's database."""
    store = RunStore(config.parent / "runs.sqlite3")
    try:
        run = store.get(run_id)
    finally:
        store.close()
    assert run is not None, f"run {run_id} is not recorded"
    return run


async def test_an_ok_run_is_recorded_with_its_records_totals_and_timing(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    async with AgentHost(config) as host:
        result = await host.execute(OK_PLAN, "greet the day")
    run = stored(config, result.run_id)
    assert (run.kind, run.name, run.request, run.status) == ("plan", "plan", "greet the day", "ok")
    assert run.steps == result.steps  # every field of every record and event, read back
    assert run.plan == result.plan and run.error is None and not run.degraded
    greet = result.steps[1]
    assert (run.tokens_in, run.tokens_out, run.cost) == (
        greet.tokens_in,
        greet.tokens_out,
        greet.cost,
    )
    assert run.started_at == result.steps[0].started_at
    ended = greet.started_at + timedelta(milliseconds=greet.latency_ms)
    assert run.started_at + timedelta(milliseconds=run.duration_ms) >= ended


async def test_a_failed_run_keeps_each_attempt_and_fallback_hop(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    async with AgentHost(config, clock=VirtualClock()) as host:
        result = await host.execute(FAILING_PLAN, "count the day")
    run = stored(config, result.run_id)
    assert run.status == "failed" and run.error == result.error
    count = run.steps[1]
    assert count.status == "failed" and count.attempts == 2
    assert [(e.kind, e.target, e.outcome) for e in count.events] == [
        ("attempt", "flaky.count", "error"),
        ("attempt", "flaky.count", "error"),
        ("attempt", "spare.count", "error"),
        ("fallback", "spare.count", "error"),
    ]


@pytest.mark.parametrize(
    "plan",
    [
        {"steps": [{"id": "a", "function": "no.such", "arguments": {}, "capability": "fetch"}]},
        {"steps": "not a list"},
    ],
    ids=["unknown function", "not a plan"],
)
async def test_a_plan_turned_down_before_it_began_is_recorded(
    tmp_path: Path, plan: dict[str, Any]
) -> None:
    """Such a run ends before any executor runs it (the executor's checks, or reading the
    plan), so no end of a run records it: a run left out of the store would be this one."""
    config = write_config(tmp_path)
    async with AgentHost(config) as host:
        result = await host.execute(plan, "bad plan")
    run = stored(config, result.run_id)
    assert run.status == "failed" and run.steps == () and run.error == result.error


async def test_a_planned_run_is_one_row_with_its_planning(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    async with AgentHost(config) as host:
        result = await host.run("say hi")
        runs = host.run_store
        runs.flush()
        assert [run.run_id for run in runs.runs()] == [result.run_id]
    run = stored(config, result.run_id)
    assert run.plan == result.plan and run.plan.startswith("planned by clauses")
    assert run.steps == result.steps


async def test_a_planned_run_is_written_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kills: the executor recording the executed plan and ``host.run`` then recording the
    planned run over it (two writes of one run)."""
    written: list[str] = []
    record = RunStore.record

    def counted(store: RunStore, result: RunResult, *args: Any, **kwargs: Any) -> None:
        written.append(result.run_id)
        record(store, result, *args, **kwargs)

    monkeypatch.setattr(RunStore, "record", counted)
    async with AgentHost(write_config(tmp_path)) as host:
        planned = await host.run("say hi")
        executed = await host.execute(OK_PLAN, "greet the day")
    assert written == [planned.run_id, executed.run_id]


@pytest.mark.parametrize("kind", ["plan", "workflow"])
async def test_a_paused_run_is_recorded_and_its_resume_updates_the_same_row(
    tmp_path: Path, kind: str
) -> None:
    config = write_config(tmp_path, extra=HANDOFF)
    async with AgentHost(config) as host:
        if kind == "plan":
            paused = await host.execute(OK_PLAN, "greet the day")
        else:
            workflow = (
                WorkflowBuilder("greeting", inputs=["day"])
                .step("greet", "talk.Echo", {"input": ref("state.day")})
                .build()
            )
            paused = await host.run_workflow(workflow, {"day": "2026-06-21"})
    waiting = stored(config, paused.run_id)
    assert (waiting.status, waiting.question) == ("needs_human", paused.question)
    async with AgentHost(config) as other:
        resumed = await other.resume(paused.run_id, "OK, hi")
        rows = other.run_store
        rows.flush()
        assert [run.run_id for run in rows.runs()] == [paused.run_id]
    run = stored(config, paused.run_id)
    assert (run.kind, run.status) == (kind, "ok") and run.steps == resumed.steps
    assert run.name == ("plan" if kind == "plan" else "greeting")
    assert run.started_at == waiting.started_at
    greet = next(record for record in run.steps if record.step_id == "greet")
    assert greet.events[-1].kind == "answered"


def result(run_id: str, started: datetime, status: RunStatus = "ok") -> RunResult:
    """A run of one step that started at ``started``."""
    record = StepRecord("s1", "clock.today", {}, "ok", started, 1.0, output="2026-06-21")
    return RunResult(run_id, f"request {run_id}", status, "2026-06-21", (record,))


def test_text_that_is_not_utf8_loses_no_run_of_its_batch(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Kills: one row SQLite cannot bind (a lone surrogate, as bytes that were not UTF-8
    are read) failing the batch's one statement, and every run of the batch with it."""
    store = RunStore(tmp_path / "runs.sqlite3")
    start = datetime(2026, 6, 21, tzinfo=UTC)
    marked = dataclasses.replace(result("run1", start), request="greet B\udce9a")
    store.record(result("run0", start), "plan", "plan")
    store.record(marked, "plan", "plan")
    store.record(result("run\udce9", start), "plan", "plan")  # an id SQLite cannot take
    store.record(result("run3", start), "plan", "plan")
    store.flush()
    try:
        assert sorted(run.run_id for run in store.runs()) == ["run0", "run1", "run3"]
        stored_run = store.get("run1")
        assert stored_run is not None and stored_run.request == "greet B?a"
    finally:
        store.close()
    assert "run store: run run\udce9 not recorded (UnicodeEncodeError" in caplog.text


def test_the_oldest_runs_past_keep_are_removed(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite3", keep=3)
    start = datetime(2026, 6, 21, tzinfo=UTC)
    for number in (4, 0, 3, 1, 2):  # queued out of order: age is the run's start
        store.record(result(f"run{number}", start + timedelta(minutes=number)), "plan", "plan")
    store.flush()
    assert [run.run_id for run in store.runs(limit=10)] == ["run4", "run3", "run2"]
    store.close()


def test_a_runs_table_of_another_layout_is_replaced_not_written_into(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Kills: a store that keeps an older version's table, where every write fails."""
    database = tmp_path / "runs.sqlite3"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE runs (run_id TEXT PRIMARY KEY, kind TEXT NOT NULL)")
        db.execute("CREATE TABLE paused_runs (run_id TEXT PRIMARY KEY)")  # another store's
    store = RunStore(database)
    store.record(result("run1", datetime(2026, 6, 21, tzinfo=UTC)), "plan", "plan")
    store.flush()
    assert [run.run_id for run in store.runs()] == ["run1"]
    store.close()
    assert "replaced a runs table of another layout (run_id, kind)" in caplog.text
    with sqlite3.connect(database) as db:  # the other stores' tables are left alone
        assert db.execute("SELECT name FROM sqlite_master WHERE name = 'paused_runs'").fetchone()


_EARLIER_DETAIL = (
    '{"run_fields":["kind","name","request","error","plan","question","waiting_step",'
    '"trace_id","degraded","cost","tokens_in","tokens_out","planning","steps","compensations"],'
    '"step_fields":["step_id","function","arguments","status","latency_ms","output","error",'
    '"error_type","model","provider","model_id","route_reason","tokens_in","tokens_out","cost",'
    '"confidence","attempts","cache_hit","degraded","started_at_us","events"],'
    '"event_fields":["kind","target","outcome","attempt","model","error_type","error",'
    '"latency_ms"],"run":["plan","plan","request old",null,null,null,null,null,false,null,null,'
    'null,[],[["s1","clock.today",{},"ok",1.0,"2026-06-21",null,null,null,null,null,null,null,'
    "null,null,null,0,false,false,1782000000000000,[]]],[]]}"
)
"""A run's detail as the version before ``run_layouts`` wrote it: its field names inline."""


def test_a_run_written_with_its_names_inline_still_reads_back(tmp_path: Path) -> None:
    """Kills: a reader that knows only the layouts of ``run_layouts``, losing the runs an
    earlier version recorded in the same table."""
    database = tmp_path / "runs.sqlite3"
    started = datetime(2026, 6, 21, tzinfo=UTC)
    store = RunStore(database)
    with sqlite3.connect(database) as db:
        db.execute(
            "INSERT INTO runs VALUES ('old', 'ok', ?, ?, ?)",
            (started.timestamp(), started.timestamp() + 2, _EARLIER_DETAIL),
        )
    store.record(result("new", started), "plan", "plan")
    store.flush()
    old, new = store.get("old"), store.get("new")
    store.close()
    assert old is not None and new is not None
    assert old.steps == result("old", started).steps and old.duration_ms == 2000
    assert dataclasses.replace(old, run_id="new", request="request new") == dataclasses.replace(
        new, started_at=started, duration_ms=2000
    )


def test_keep_must_be_positive(tmp_path: Path) -> None:
    config = tmp_path / "host.yaml"
    config.write_text("runs:\n  keep: 0\n")
    with pytest.raises(ConfigError, match=r"host.yaml:2: runs.keep.*greater than 0"):
        load_config(config)


def test_a_file_that_is_not_a_database_is_a_config_error_naming_it(tmp_path: Path) -> None:
    database = tmp_path / "runs.sqlite3"
    database.write_text("not a database, but notes\n" * 200)
    with pytest.raises(ConfigError) as raised:
        RunStore(database)
    assert str(raised.value) == f"runs.database: cannot open {database} (file is not a database)"


def test_a_keep_or_limit_past_sqlites_integers_means_every_run(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite3", keep=10**20)
    store.record(result("run0", datetime(2026, 6, 21, tzinfo=UTC)), "plan", "p")
    store.flush()
    try:
        assert [run.run_id for run in store.runs(limit=10**20)] == ["run0"]
    finally:
        store.close()


def test_runs_filter_by_status_newest_first(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite3")
    start = datetime(2026, 6, 21, tzinfo=UTC)
    statuses: list[RunStatus] = ["failed", "ok", "failed", "ok"]
    for number, status in enumerate(statuses):
        store.record(result(f"run{number}", start + timedelta(minutes=number), status), "plan", "p")
    store.flush()
    assert [run.run_id for run in store.runs(status="failed")] == ["run2", "run0"]
    assert [run.run_id for run in store.runs(limit=1)] == ["run3"]
    assert store.last() is not None and store.last().run_id == "run3"  # type: ignore[union-attr]
    store.close()


@pytest.mark.parametrize(
    ("asked", "found"),
    [
        ("abcdef0123", "abcdef0123"),
        ("123456", "1234567890"),
        ("abcdef", None),  # two runs start with it
        ("12345", None),  # too short to stand for a run
        ("999999", None),
    ],
)
def test_get_takes_a_whole_id_or_a_unique_prefix(
    tmp_path: Path, asked: str, found: str | None
) -> None:
    store = RunStore(tmp_path / "runs.sqlite3")
    for run_id in ("abcdef0123", "abcdef4567", "1234567890"):
        store.record(result(run_id, datetime.now(UTC)), "plan", "plan")
    store.flush()
    run = store.get(asked)
    assert (run.run_id if run else None) == found
    store.close()


async def test_a_run_ends_before_its_record_is_written_and_flush_writes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer is held until the run has ended: a run that wrote its own record would
    wait for the writer (here, until the gate gives up) and be readable before the flush."""
    config = write_config(tmp_path)
    async with AgentHost(config) as host:
        store = host.run_store
        gate = threading.Event()
        write = store._write

        def held(runs: list[Any]) -> None:
            gate.wait(5)
            write(runs)

        monkeypatch.setattr(store, "_write", held)
        result = await host.execute(OK_PLAN, "greet the day")
        assert result.status == "ok" and store.get(result.run_id) is None
        gate.set()
        store.flush()
        assert store.get(result.run_id) is not None


def test_a_run_json_cannot_hold_is_left_out_and_the_rest_written(tmp_path: Path) -> None:
    looped: list[Any] = []
    looped.append(looped)
    store = RunStore(tmp_path / "runs.sqlite3")
    now = datetime.now(UTC)
    bad = result("bad", now)
    bad = dataclasses.replace(bad, steps=(dataclasses.replace(bad.steps[0], output=looped),))
    store.record(bad, "plan", "plan")
    store.record(result("good", now), "plan", "plan")
    store.flush()
    assert [run.run_id for run in store.runs()] == ["good"]
    store.close()


@pytest.mark.reliability
async def test_no_byte_of_the_database_holds_a_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The secret is the value of a variable the config names as a key; it is in the
    request, a step's argument and its error, and another step's output."""
    secret = new_secret()
    monkeypatch.setenv("RUN_STORE_SENTINEL_KEY", secret)
    config = write_config(
        tmp_path,
        models="  hosted:\n    provider: scripted\n    model: h\n"
        "    api_key_env: RUN_STORE_SENTINEL_KEY\n",
    )
    plan = {
        "steps": [
            step("greet", "talk.Echo", input=secret),
            step("day", "clock.resolve_date", "greet", expression=secret),
        ]
    }
    local = ScriptedChatCompletion("local", [Reply(f"the key is {secret}")])
    async with AgentHost(config, models={"local": local}) as host:
        result = await host.execute(plan, f"use {secret}")
    assert result.status == "failed" and "***" in (result.error or "")
    assert files_holding(tmp_path, secret) == []
    run = stored(config, result.run_id)
    assert run.request == "use ***" and run.steps[0].output == "the key is ***"


def test_every_part_of_a_run_reads_back_equal(tmp_path: Path) -> None:
    """Kills: planning, steps and compensations sliced apart wrongly, a field or event
    stored out of its order, a start read back off by a microsecond, wrong totals."""
    start = datetime(2026, 6, 21, 9, 30, 15, 123457, tzinfo=UTC)
    event = CallEvent.failed("attempt", "local", "error", TimeoutError("slow"), attempt=1)

    def record(step_id: str, offset: int, **fields: Any) -> StepRecord:
        started = start + timedelta(microseconds=offset)
        return StepRecord(step_id, "talk.Echo", {"input": [1, "two"]}, "ok", started, 0.1, **fields)

    ran = RunResult(
        "every-part",
        "greet",
        "failed",
        None,
        steps=(record("greet", 7, output={"text": "hi"}, cost=0.5, tokens_in=3, events=(event,)),),
        plan="1 step",
        error="undo needed",
        compensations=(record("undo", 9, error="gone", error_type="KeyError"),),
        planning=(record("plan", 0, model="local", cost=0.25, tokens_out=4, degraded=True),),
    )
    store = RunStore(tmp_path / "runs.sqlite3")
    store.record(ran, "workflow", "greeting")
    store.flush()
    run = store.get("every-part")
    store.close()
    assert run is not None
    assert (run.planning, run.steps, run.compensations) == (
        ran.planning,
        ran.steps,
        ran.compensations,
    )
    assert (run.kind, run.name, run.request, run.status, run.error, run.plan) == (
        "workflow",
        "greeting",
        "greet",
        "failed",
        "undo needed",
        "1 step",
    )
    assert (run.cost, run.tokens_in, run.tokens_out, run.started_at) == (0.75, 3, 4, start)


def test_a_run_recorded_twice_before_a_write_keeps_its_first_start(tmp_path: Path) -> None:
    """Kills: keeping only a run's latest queued result in a batch, which dropped the
    earlier start (a planned run recorded, then resumed, before the writer woke)."""
    first = datetime(2026, 6, 21, tzinfo=UTC)
    store = RunStore(tmp_path / "runs.sqlite3")
    store.record(result("again", first, "needs_human"), "plan", "plan")
    store.record(result("again", first + timedelta(hours=1)), "plan", "plan")
    store.flush()
    run = store.get("again")
    store.close()
    assert run is not None and (run.status, run.started_at) == ("ok", first)


def test_flush_returns_once_every_run_recorded_before_it_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kills: a flush that waits for one batch only, when more than a batch is queued."""
    monkeypatch.setattr(run_store, "_BATCH", 2)
    store = RunStore(tmp_path / "runs.sqlite3")
    start = datetime(2026, 6, 21, tzinfo=UTC)
    for number in range(7):
        store.record(result(f"run{number}", start + timedelta(minutes=number)), "plan", "plan")
    store.flush()
    assert len(store.runs(limit=10)) == 7
    store.close()


def test_record_waits_for_a_batch_write_when_too_many_runs_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer is held in its first batch while runs pile up past the bound; the gate
    opens only once a run waits. Kills: an unbounded queue (the run past the bound returns
    while the writer is still held) and a wait that returns before a batch is written."""
    monkeypatch.setattr(run_store, "_QUEUED", 4)
    store = RunStore(tmp_path / "runs.sqlite3")
    writing, gate, order = threading.Event(), threading.Event(), []
    write, wait = store._write, store._wait_for_batch

    def held(runs: list[Any]) -> None:
        writing.set()
        gate.wait(5)
        write(runs)
        order.append("written")

    def waiting() -> None:
        order.append("waiting")
        gate.set()
        wait()

    monkeypatch.setattr(store, "_write", held)
    monkeypatch.setattr(store, "_wait_for_batch", waiting)
    start = datetime(2026, 6, 21, tzinfo=UTC)
    store.record(result("first", start), "plan", "plan")
    assert writing.wait(5)
    for number in range(5):  # the fifth finds five waiting: past the bound of four
        store.record(result(f"run{number}", start), "plan", "plan")
    order.append("returned")
    gate.set()
    store.close()
    assert order[0] == "waiting" and order.index("written") < order.index("returned")
    reopened = RunStore(tmp_path / "runs.sqlite3")
    assert len(reopened.runs(limit=10)) == 6
    reopened.close()


def test_an_output_json_has_no_type_for_is_recorded_as_its_fields_or_text(
    tmp_path: Path,
) -> None:
    """Kills: the fast encoder's refusal of such an output losing the run."""

    @dataclasses.dataclass
    class Receipt:
        number: int

    when = datetime(2026, 6, 21, tzinfo=UTC)
    ran = result("odd", when)
    record = dataclasses.replace(ran.steps[0], output={"at": when, "receipt": Receipt(7)})
    store = RunStore(tmp_path / "runs.sqlite3")
    store.record(dataclasses.replace(ran, steps=(record,)), "plan", "plan")
    store.flush()
    run = store.get("odd")
    store.close()
    assert run is not None
    assert run.steps[0].output == {"at": when.isoformat(), "receipt": {"number": 7}}


def test_a_write_waits_a_minute_for_another_process_holding_the_file(tmp_path: Path) -> None:
    """Kills: SQLite's default 5 s, past which a batch behind another process's long
    write transaction was given up (its runs lost)."""
    store = RunStore(tmp_path / "runs.sqlite3")
    try:
        assert store._db.execute("PRAGMA busy_timeout").fetchone() == (60_000,)
    finally:
        store.close()


def test_the_run_store_puts_the_shared_file_in_wal_and_the_stores_beside_still_sync(
    tmp_path: Path,
) -> None:
    """WAL halves the store's SQL time (``bench/run_store.py``); it holds for the whole
    file. Kills: a store beside it (here the effect keys, opened first as the host does)
    made to sync less, or losing a write across the switch."""
    database = tmp_path / "runs.sqlite3"
    keys = IdempotencyStore(database)
    runs = RunStore(database)
    keys.put("run1/send", "mail.send", "sent")
    runs.record(result("run1", datetime.now(UTC)), "plan", "plan")
    runs.close()
    synchronous = keys._db.execute("PRAGMA synchronous").fetchone()
    keys.close()
    reopened = IdempotencyStore(database)
    assert reopened.get("run1/send") == ("done", "sent")
    assert reopened._db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    reopened.close()
    assert synchronous == (2,)  # FULL: each of its commits is on disk when it returns
