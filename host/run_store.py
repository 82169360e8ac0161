"""Every run of the host, kept in SQLite for ``agent-host runs`` and ``agent-host trace``.

:class:`RunStore` keeps each run — a plan or a workflow, first run or resume —
in the database ``runs.database`` names, beside paused runs and effect keys:
its request, status, start and duration, plan outline, every step record
(planning and compensations included), error, total cost and tokens, and trace
id. A resumed run replaces its row but keeps its first start; the ``runs.keep``
runs that started last are kept.

Recording is off the run's path: :meth:`RunStore.record` only appends the result
to a queue (no lock, no wake-up per run), and a writer thread writes what is
queued in one transaction per batch, every registered secret masked
(:mod:`host.redaction`). A run waits on the store only when the queue is full,
and then for one batch write. Results are values: an output changed after its
run ends may be recorded changed.

The store puts the database file in WAL mode (write-ahead log), which holds for
every store sharing the file: the paused runs and effect keys keep their own
connections' full sync, so each of their commits is on disk when it returns,
while this store syncs at checkpoints only (``synchronous=NORMAL``): a power cut,
not a crash of the process, may lose the runs written last.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import operator
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from host.errors import describe_error
from host.paused_runs import Kind
from host.redaction import redact
from host.sqlite_store import SQLiteStore, cannot_open, storable
from host.state import CallEvent, RunResult, RunStatus, StepRecord, spent

_log = logging.getLogger("agent_host")

SHORTEST_PREFIX = 6
"""How many first characters of a run id :meth:`RunStore.get` accepts for the whole id."""

_BATCH = 128
"""The most runs one transaction writes; as many waiting wake the writer at once."""

_QUEUED = 1024
"""The most runs waiting to be written; past it, :meth:`RunStore.record` waits for the writer."""

_LINGER = 0.05
"""Seconds the writer lets runs gather before writing a batch smaller than :data:`_BATCH`."""

_UNBINDABLE = (UnicodeError, OverflowError, sqlite3.InterfaceError, sqlite3.ProgrammingError)
"""What SQLite raises for a value it cannot bind (a lone surrogate, a huge integer)."""

_LOCKED_WAIT_MS = 60_000
"""How long a write waits for another process's write transaction on the same file
before its batch is given up (SQLite's default, 5 s, lost runs behind a long one); the
writer is off the runs' path, so waiting costs them nothing."""

_LARGEST = 2**63 - 1
"""SQLite's largest integer: a ``limit`` or ``keep`` past it is as good as none."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    started_at REAL NOT NULL,
    ended_at REAL NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_start ON runs (started_at);
CREATE TABLE IF NOT EXISTS run_layouts (
    layout INTEGER PRIMARY KEY,
    names TEXT NOT NULL UNIQUE
);
"""
"""A column for what a query selects, sorts or trims by; the rest of a run is its ``detail``
(JSON, see :func:`_row`): each column bound costs the writer more than a JSON value. The
field names a detail's values follow are written once, in ``run_layouts``, not in each
row: the bytes of a row are most of what an insert costs."""

_COLUMNS = "run_id, status, started_at, ended_at, detail"
_UPSERT = (
    f"INSERT INTO runs ({_COLUMNS}) VALUES (?, ?, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET "
    "status = excluded.status, started_at = MIN(started_at, excluded.started_at), "
    "ended_at = excluded.ended_at, detail = excluded.detail"
)
"""A run written again (resumed, or planned and then executed) keeps its first start."""
_NEWEST_FIRST = "ORDER BY started_at DESC, rowid DESC"
_TRIM = (
    f"DELETE FROM runs WHERE rowid IN (SELECT rowid FROM runs {_NEWEST_FIRST} LIMIT -1 OFFSET ?)"
)
"""Drop all but the ``keep`` runs that started last (a walk of ``keep`` index entries)."""


@dataclass(frozen=True, slots=True)
class RecordedRun:
    """One run as the store keeps it; most fields as in :class:`~host.state.RunResult`."""

    run_id: str
    kind: Kind
    name: str
    """The workflow's name, or ``plan``."""
    request: str
    status: RunStatus
    started_at: datetime
    """When the run began (UTC), or its earliest record's start; a resumed run keeps it."""
    duration_ms: float
    """From its start to its latest end (a resumed run's includes its wait for a person)."""
    cost: float | None
    """The sum over every record that has a cost (``None`` when none has)."""
    tokens_in: int | None
    tokens_out: int | None
    degraded: bool
    trace_id: str | None
    error: str | None
    plan: str | None
    question: str | None
    waiting_step: str | None
    planning: tuple[StepRecord, ...]
    steps: tuple[StepRecord, ...]
    compensations: tuple[StepRecord, ...]

    def summary(self) -> dict[str, Any]:
        """A JSON-ready copy without the records (a row of ``runs --json``)."""
        data = {name: getattr(self, name) for name in _SUMMARY_FIELDS}
        data["started_at"] = self.started_at.isoformat()
        return data

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy with every record (``trace --json`` prints this)."""
        data = self.summary()
        for part in _RECORD_FIELDS:
            data[part] = [record.to_dict() for record in getattr(self, part)]
        return data


_RECORD_FIELDS = ("planning", "steps", "compensations")
_SUMMARY_FIELDS = tuple(
    field.name for field in dataclasses.fields(RecordedRun) if field.name not in _RECORD_FIELDS
)


class _Queued(NamedTuple):
    """A run to write, with when it began (if known beyond its records) and ended (epoch
    seconds)."""

    result: RunResult
    kind: Kind
    name: str
    started: float | None
    ended: float


_Item = _Queued | threading.Event | None
"""A run to write, a flush waiting for what was queued before it, or the end."""


class RunStore(SQLiteStore):
    """Recorded runs by run id, newest ``keep`` kept; written by a thread of its own.

    Call :meth:`close` (the host does) so that what is queued is written.
    """

    def __init__(self, database: str | Path = ":memory:", *, keep: int = 1000) -> None:
        if keep < 1:
            raise ValueError(f"keep must be at least 1, got {keep}")
        super().__init__(database, "")
        try:
            _create_table(self._db)
            _write_ahead(self._db, database)
            self._db.execute(f"PRAGMA busy_timeout = {_LOCKED_WAIT_MS}")
            self._layout = _layout(self._db)
            """The ``run_layouts`` row of the names this store writes (see :func:`_row`)."""
        except sqlite3.Error as problem:  # not a database, or one SQLite cannot open here
            self._db.close()
            raise cannot_open(database, problem) from None
        self._layouts: dict[int, _Names] = {}
        """The layouts read so far, by number (a layout, once written, never changes)."""
        self.keep = min(keep, _LARGEST)
        self._queued: deque[_Item] = deque()
        self._closed = False
        """Set by :meth:`close`, or when the writer stops: a run recorded then is not kept."""
        self._stopped = False
        """Set when the writer has stopped: no flush or run waits for it any more."""
        self._waiting = threading.Event()
        """Set when something is queued that the writer has not yet seen."""
        self._hurry = threading.Event()
        """Set when someone waits for the writer (or a batch is full): it writes without
        lingering."""
        self._written = threading.Condition()
        """Notified after each batch the writer writes (:attr:`_batches` counts them)."""
        self._batches = 0
        self._writer = threading.Thread(target=self._write_queued, name="run-store", daemon=True)
        self._writer.start()

    def record(
        self, result: RunResult, kind: Kind, name: str, *, started: float | None = None
    ) -> None:
        """Queue ``result`` to be written, as a run of ``kind`` called ``name`` that ended
        now and began at ``started`` (epoch seconds), else when its first record began.

        Returns at once, unless more than :data:`_QUEUED` runs wait to be written: then
        after the writer's next batch. Once the store is closed, a run is not recorded
        (a warning says so).
        """
        if self._closed:
            _log.warning("run store: closed, run %s not recorded", result.run_id)
            return
        queued = self._queued
        queued.append(_Queued(result, kind, name, started, time.time()))
        if not self._waiting.is_set():  # set until the writer takes what it was woken for
            self._waiting.set()
        if len(queued) >= _BATCH and not self._hurry.is_set():
            self._hurry.set()
        if len(queued) > _QUEUED:
            self._wait_for_batch()

    def flush(self) -> None:
        """Wait until every run queued before this call is written (nothing once closed)."""
        if self._stopped:
            return
        written = threading.Event()
        self._wake(written)
        if not self._stopped:  # else the writer may have let go of what it had before ours
            written.wait()

    def close(self) -> None:
        """Write what is queued, stop the writer and close the database."""
        if self._writer.is_alive():
            self._closed = True
            self._wake(None)
            self._writer.join()
        super().close()

    def runs(self, status: RunStatus | None = None, limit: int = 20) -> list[RecordedRun]:
        """The newest ``limit`` runs (of ``status``, if given), newest first."""
        where, given = ("WHERE status = ?", (status,)) if status else ("", ())
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM runs {where} {_NEWEST_FIRST} LIMIT ?",
                (*given, min(limit, _LARGEST)),
            ).fetchall()
            return [_recorded(row, self._names) for row in rows]

    def get(self, run_id: str) -> RecordedRun | None:
        """The run ``run_id``, or the only one whose id starts with it (given
        :data:`SHORTEST_PREFIX` characters or more); ``None`` when there is no such run."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)
            ).fetchall()
            if not rows and len(run_id) >= SHORTEST_PREFIX:
                rows = self._db.execute(
                    f"SELECT {_COLUMNS} FROM runs WHERE substr(run_id, 1, ?) = ? LIMIT 2",
                    (len(run_id), run_id),
                ).fetchall()
            return _recorded(rows[0], self._names) if len(rows) == 1 else None

    def last(self) -> RecordedRun | None:
        """The newest run, if any."""
        newest = self.runs(limit=1)
        return newest[0] if newest else None

    def _names(self, layout: int) -> _Names:
        """The field names of ``layout`` (the caller holds the lock)."""
        names = self._layouts.get(layout)
        if names is None:
            row = self._db.execute(
                "SELECT names FROM run_layouts WHERE layout = ?", (layout,)
            ).fetchone()
            if row is None:
                raise ValueError(f"run store: no layout {layout}")
            data = json.loads(row[0])
            names = self._layouts[layout] = (
                data["run_fields"],
                data["step_fields"],
                data["event_fields"],
            )
        return names

    def _wake(self, item: threading.Event | None) -> None:
        """Queue a flush's event (or the end) and have the writer write without lingering."""
        self._queued.append(item)
        self._hurry.set()
        self._waiting.set()

    def _wait_for_batch(self) -> None:
        """Wait until the writer has written one more batch (or has stopped)."""
        with self._written:
            self._hurry.set()
            seen = self._batches
            self._written.wait_for(lambda: self._batches != seen or self._stopped)

    def _write_queued(self) -> None:
        """The writer thread: what is queued, a batch per transaction, until :meth:`close`.

        Woken by the first run queued after it last looked, it lets runs gather for
        :data:`_LINGER` seconds before a batch smaller than :data:`_BATCH` (a busy host
        writes one transaction per batch, not per run), unless someone waits for it.
        """
        queued = self._queued
        try:
            while True:
                self._waiting.wait()
                if len(queued) < _BATCH:
                    self._hurry.wait(_LINGER)
                self._hurry.clear()
                self._waiting.clear()  # after the linger: runs queued during it set nothing
                while queued:
                    batch = [queued.popleft() for _ in range(min(len(queued), _BATCH))]
                    if self._write_batch(batch):
                        return
        finally:  # stopped (or broken): no flush or full queue waits for it any more
            self._closed = self._stopped = True
            left = 0
            while queued:
                item = queued.popleft()
                left += isinstance(item, _Queued)
                if isinstance(item, threading.Event):
                    item.set()
            if left:
                _log.warning("run store: closed, %d run(s) not recorded", left)
            with self._written:
                self._written.notify_all()

    def _write_batch(self, batch: list[_Item]) -> bool:
        """Write the runs of ``batch``, then release its flushes; whether it ends the writer."""
        runs = [item for item in batch if isinstance(item, _Queued)]
        try:
            self._write(runs)
        except Exception as error:  # the writer outlives a bad batch: a flush would hang
            _log.warning("run store: %d run(s) not recorded (%s)", len(runs), describe_error(error))
        with self._written:
            self._batches += 1
            self._written.notify_all()
        for item in batch:
            if isinstance(item, threading.Event):
                item.set()
        return None in batch

    def _write(self, runs: list[_Queued]) -> None:
        """Write ``runs`` in the order queued and drop all but the :attr:`keep` that started
        last."""
        rows = []
        for queued in runs:
            try:
                rows.append(_row(queued, self._layout))
            except (TypeError, ValueError, RecursionError) as error:  # JSON cannot hold it
                run_id = queued.result.run_id
                _log.warning("run store: run %s not recorded (%s)", run_id, describe_error(error))
        if not rows:
            return
        with self._lock, self._db:
            try:
                self._db.executemany(_UPSERT, rows)
            except _UNBINDABLE:  # one row SQLite cannot take must not lose the others
                for row in rows:  # a row written again is the same upsert
                    try:
                        self._db.execute(_UPSERT, row)
                    except _UNBINDABLE as error:
                        problem = describe_error(error)
                        _log.warning("run store: run %s not recorded (%s)", row[0], problem)
            self._db.execute(_TRIM, (self.keep,))


def _create_table(db: sqlite3.Connection) -> None:
    """Create the ``runs`` table, replacing one of another layout (an earlier version's):
    its runs are history only, and every write to it would fail."""
    columns = ", ".join(row[1] for row in db.execute("PRAGMA table_info(runs)"))
    with db:
        if columns and columns != _COLUMNS:
            _log.warning("run store: replaced a runs table of another layout (%s)", columns)
            db.execute("DROP TABLE runs")
        db.executescript(_SCHEMA)


def _write_ahead(db: sqlite3.Connection, database: str | Path) -> None:
    """Put the database in WAL mode, this connection syncing at checkpoints only.

    A commit then appends its pages to the log rather than first copying the old ones
    to a rollback journal, and readers do not wait for it: it halves the store's SQL
    time. A database that does not take WAL (one another process holds in a
    transaction, or a read-only file) stays as it is, with a warning.
    """
    try:
        (mode,) = db.execute("PRAGMA journal_mode = WAL").fetchone()
        db.execute("PRAGMA synchronous = NORMAL")
    except sqlite3.Error as problem:
        mode = str(problem)
    if mode not in ("wal", "memory"):
        _log.warning("run store: %s stays in its journal mode (%s)", database, mode)


_RUN_FIELDS = (
    "kind",
    "name",
    "request",
    "error",
    "plan",
    "question",
    "waiting_step",
    "trace_id",
    "degraded",
    "planning",
    "steps",
    "compensations",
)
_STEP_FIELDS = tuple(
    field.name for field in dataclasses.fields(StepRecord) if field.name != "events"
)
_EVENT_FIELDS = tuple(field.name for field in dataclasses.fields(CallEvent))
_step_values = operator.attrgetter(*_STEP_FIELDS)
_started_at = operator.attrgetter("started_at")
_event_values = operator.attrgetter(*_EVENT_FIELDS)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAMES = json.dumps(
    {
        "run_fields": _RUN_FIELDS,
        "step_fields": _STEP_FIELDS,
        "event_fields": _EVENT_FIELDS,
    }
)
"""The field names of what :func:`_row` writes, a row of ``run_layouts``."""

_Names = tuple[list[str], list[str], list[str]]
"""A layout's run, step and event field names."""


def _layout(db: sqlite3.Connection) -> int:
    """The number of the ``run_layouts`` row holding :data:`_NAMES`, written if new."""
    select = "SELECT layout FROM run_layouts WHERE names = ?"
    row = db.execute(select, (_NAMES,)).fetchone()
    if row is None:
        with db:
            db.execute("INSERT OR IGNORE INTO run_layouts (names) VALUES (?)", (_NAMES,))
        row = db.execute(select, (_NAMES,)).fetchone()
    layout: int = row[0]
    return layout


def _row(queued: _Queued, layout: int) -> tuple[str, str, float, float, str]:
    """The table row of a queued run: its id, status, start, end and detail, redacted.

    The detail is one JSON object: the number of its ``layout`` (the ``run_layouts`` row
    naming its fields: ``run_fields``, ``step_fields``, ``event_fields``) and the run's
    values in that order (``run``), each record as a list of values (its start as ISO
    text), its events as lists. Plain data that orjson turns to text in one call (a
    tenth of the standard encoder's time), with no Python callback per object. The
    totals a run spent are summed from its records when it is read.
    """
    result = queued.result
    planning, steps, compensations = result.planning, result.steps, result.compensations
    values = (
        queued.kind,
        queued.name,
        result.request,
        result.error,
        result.plan,
        result.question,
        result.waiting_step,
        result.trace_id,
        result.degraded,
        [(_step_values(record), [*map(_event_values, record.events)]) for record in planning],
        [(_step_values(record), [*map(_event_values, record.events)]) for record in steps],
        [(_step_values(record), [*map(_event_values, record.events)]) for record in compensations],
    )
    try:
        encoded = orjson.dumps(values).decode()
    except TypeError:  # a value orjson cannot hold (a type it does not know, a huge int,
        # text that is not UTF-8: a lone surrogate, which SQLite cannot take either, as ?)
        encoded = storable(_LENIENT_ENCODER.encode(values))
    started = queued.ended if queued.started is None else queued.started
    records = (*planning, *steps, *compensations)
    if records:
        try:
            first = min(map(_started_at, records)).timestamp()
        except TypeError:  # naive and aware times: compared as timestamps
            first = min(record.started_at.timestamp() for record in records)
        started = min(started, first)
    detail = f'{{"layout":{layout},"run":{encoded}}}'
    return (result.run_id, result.status, started, queued.ended, redact(detail))


def _json_value(value: Any) -> Any:
    """JSON data for a value ``json`` has no type for: a time as ISO text, a dataclass as
    its fields, anything else as its text."""
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)


_LENIENT_ENCODER = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), check_circular=False, default=_json_value
)
"""For what orjson turns down. No check for a value that holds itself: it ends in a
:class:`RecursionError` anyway."""


def _recorded(row: tuple[Any, ...], names: Callable[[int], _Names]) -> RecordedRun:
    """The :class:`RecordedRun` of a table row; ``names`` gives a layout's field names.

    A detail written before layouts (by an earlier version) holds its names itself."""
    run_id, status, started, ended, detail = row
    data = json.loads(detail)
    if "layout" in data:
        run_fields, step_fields, event_fields = names(data["layout"])
    else:
        run_fields, step_fields, event_fields = (
            data["run_fields"],
            data["step_fields"],
            data["event_fields"],
        )
    run = dict(zip(run_fields, data["run"], strict=True))
    parts = {
        part: tuple(_step_record(step_fields, event_fields, values) for values in run[part])
        for part in _RECORD_FIELDS
    }
    records = (*parts["planning"], *parts["steps"], *parts["compensations"])
    return RecordedRun(
        run_id=run_id,
        kind=run["kind"],
        name=run["name"],
        request=run["request"],
        status=status,
        started_at=datetime.fromtimestamp(started, UTC),
        duration_ms=(ended - started) * 1000,
        cost=spent(records, "cost"),
        tokens_in=spent(records, "tokens_in"),
        tokens_out=spent(records, "tokens_out"),
        degraded=run["degraded"],
        trace_id=run["trace_id"],
        error=run["error"],
        plan=run["plan"],
        question=run["question"],
        waiting_step=run["waiting_step"],
        planning=parts["planning"],
        steps=parts["steps"],
        compensations=parts["compensations"],
    )


def _step_record(step_fields: list[str], event_fields: list[str], stored: list[Any]) -> StepRecord:
    """A stored record: its values in ``step_fields`` order and its events, its start as
    ISO text (read as UTC, as :meth:`~datetime.datetime.timestamp` reads it); or, written
    by an earlier version, one list of values ending with the events, the start in
    integer microseconds since the epoch (``started_at_us``)."""
    if "started_at_us" in step_fields:
        fields = dict(zip(step_fields, stored, strict=True))
        fields["started_at"] = _EPOCH + timedelta(microseconds=fields.pop("started_at_us"))
        events = fields.pop("events")
    else:
        values, events = stored
        fields = dict(zip(step_fields, values, strict=True))
        fields["started_at"] = datetime.fromisoformat(fields["started_at"]).astimezone(UTC)
    fields["events"] = tuple(
        CallEvent(**dict(zip(event_fields, event, strict=True))) for event in events
    )
    return StepRecord(**fields)
