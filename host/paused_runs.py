"""Runs waiting for a person, kept in SQLite so they can be resumed later, even elsewhere.

When a run pauses as ``needs_human``, the host stores what resuming needs: the
plan or workflow, the request, the deadline, the waiting step, and the run state
(input values, every step's output and record). ``AgentHost.resume`` *claims*
the snapshot for a lease (renewed while it runs, so only a crashed resume's
claim lapses) and continues from it; the snapshot is removed only when the run
finishes or pauses again (the new snapshot replaces it). A resume that fails
gives up its claim and leaves the run waiting, with the error recorded. The
database is the one ``runs.database`` names, beside the idempotency keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, NamedTuple

from host.errors import LostClaimError, RunBusyError, UnknownRunError
from host.redaction import redact
from host.sqlite_store import SQLiteStore, json_text
from host.state import CallEvent, RunState, StepRecord

Kind = Literal["plan", "workflow", "team"]
"""What a run runs: a plan, a workflow, or a team of agents."""

DEFAULT_LEASE = 300.0
"""Seconds a resume's claim lasts unless renewed: how long a crashed resume blocks its run."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS paused (
    run_id TEXT PRIMARY KEY,
    snapshot TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS resumes (
    run_id TEXT PRIMARY KEY,
    owner TEXT,
    until REAL,
    last_error TEXT
);
"""


@dataclass(frozen=True)
class Snapshot:
    """A paused run: what it runs, where it waits, and its state."""

    kind: Kind
    definition: dict[str, Any]
    """The plan, the workflow, or the team, as JSON data."""
    request: str
    deadline: float | None
    waiting_step: str
    question: str
    steps: tuple[StepRecord, ...]
    """The records of the result that paused (a workflow's every node run so far)."""
    state: RunState
    span: str | None = None
    """``<trace id>-<span id>`` of the paused run's span, when it was traced: the
    resumed run's span links to it."""


class Claim(NamedTuple):
    """A paused run held by one resume until its lease lapses."""

    run_id: str
    owner: str
    snapshot: Snapshot


class Waiting(NamedTuple):
    """A run waiting for a person, and why its last resume failed (if one did)."""

    run_id: str
    last_error: str | None

    def describe(self) -> str:
        """The run id, with the last resume's error when there was one."""
        if self.last_error is None:
            return self.run_id
        return f"{self.run_id} (last resume failed: {self.last_error.splitlines()[0]})"


class PausedRuns(SQLiteStore):
    """Snapshots of ``needs_human`` runs by run id, and the resumes that hold them.

    Leases are wall-clock time (``now``, default :func:`time.time`), as processes
    sharing the database must agree on it; ``sleep`` waits between renewals.
    """

    def __init__(
        self,
        database: str | Path = ":memory:",
        *,
        lease: float = DEFAULT_LEASE,
        now: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(database, _SCHEMA)
        self.lease = lease
        self._now = now
        self._sleep = sleep

    def keep(self, snapshot: Snapshot, claim: Claim | None = None) -> None:
        """Store ``snapshot`` under its run id, unclaimed (replacing an earlier pause of it).

        A resume that pauses its run again passes its ``claim``: if the claim was lost (its
        lease lapsed and another resume took the run, which may have finished it since),
        nothing is stored and :class:`~host.errors.LostClaimError` is raised.
        """
        text = redact(json_text(_encode(snapshot)))
        run_id = snapshot.state.run_id
        with self._lock, self._db:
            if claim is not None and not self._holds(claim):
                raise LostClaimError(run_id, self.lease)
            self._db.execute(
                "INSERT OR REPLACE INTO paused (run_id, snapshot) VALUES (?, ?)", (run_id, text)
            )
            self._db.execute("DELETE FROM resumes WHERE run_id = ?", (run_id,))

    def claim(self, run_id: str) -> Claim:
        """Hold ``run_id`` for one resume, for :attr:`lease` seconds.

        One statement takes the claim, so of two processes claiming the same run
        only one gets it. Raises :class:`~host.errors.UnknownRunError` when the
        run is not waiting, :class:`~host.errors.RunBusyError` when another
        resume's claim has not lapsed.
        """
        owner = uuid.uuid4().hex
        with self._lock, self._db:
            now = self._now()
            taken = self._db.execute(
                "INSERT INTO resumes (run_id, owner, until) "
                "SELECT run_id, ?, ? FROM paused WHERE run_id = ? "
                "ON CONFLICT (run_id) DO UPDATE SET owner = excluded.owner, until = excluded.until "
                "WHERE resumes.until IS NULL OR resumes.until <= ?",
                (owner, now + self.lease, run_id, now),
            ).rowcount
            row = self._db.execute(
                "SELECT snapshot, until FROM paused JOIN resumes USING (run_id) WHERE run_id = ?",
                (run_id,),
            ).fetchone()
        if taken:
            return Claim(run_id, owner, _decode(json.loads(row[0])))
        if row is not None:
            raise RunBusyError(run_id, row[1] - now)
        raise UnknownRunError(run_id, [waiting.describe() for waiting in self.waiting()])

    def _holds(self, claim: Claim) -> bool:
        """Whether ``claim`` still holds its run (call with the lock held)."""
        held = self._db.execute(
            "SELECT 1 FROM resumes WHERE run_id = ? AND owner = ?", (claim.run_id, claim.owner)
        ).fetchone()
        return held is not None

    def renew(self, claim: Claim) -> None:
        """Extend ``claim`` by a full lease from now (nothing if it was lost)."""
        with self._lock, self._db:
            self._db.execute(
                "UPDATE resumes SET until = ? WHERE run_id = ? AND owner = ?",
                (self._now() + self.lease, claim.run_id, claim.owner),
            )

    @contextlib.asynccontextmanager
    async def holding(self, claim: Claim) -> AsyncIterator[None]:
        """Keep ``claim`` alive while the block runs: renewed three times per lease."""

        async def renew() -> None:
            while True:
                await self._sleep(self.lease / 3)
                self.renew(claim)

        renewal = asyncio.create_task(renew())
        try:
            yield
        finally:
            renewal.cancel()

    def release(self, claim: Claim, error: str) -> None:
        """Give up ``claim`` after a failed resume: the run waits again, ``error`` recorded."""
        with self._lock, self._db:
            self._db.execute(
                "UPDATE resumes SET owner = NULL, until = NULL, last_error = ? "
                "WHERE run_id = ? AND owner = ?",
                (error, claim.run_id, claim.owner),
            )

    def finish(self, claim: Claim) -> None:
        """Remove the run ``claim`` holds: it finished (nothing if the claim was lost)."""
        with self._lock, self._db:
            owned = self._db.execute(
                "DELETE FROM resumes WHERE run_id = ? AND owner = ?", (claim.run_id, claim.owner)
            ).rowcount
            if owned:
                self._db.execute("DELETE FROM paused WHERE run_id = ?", (claim.run_id,))

    def is_waiting(self, run_id: str) -> bool:
        """Whether run ``run_id`` is waiting for a person (claimed by a resume or not)."""
        with self._lock:
            row = self._db.execute("SELECT 1 FROM paused WHERE run_id = ?", (run_id,)).fetchone()
        return row is not None

    def waiting(self) -> list[Waiting]:
        """Every run waiting for a person (claimed or not), by run id."""
        with self._lock:
            rows = self._db.execute(
                "SELECT run_id, last_error FROM paused LEFT JOIN resumes USING (run_id) "
                "ORDER BY run_id"
            ).fetchall()
        return [Waiting(*row) for row in rows]


def _encode(snapshot: Snapshot) -> dict[str, Any]:
    state = snapshot.state
    return {
        "kind": snapshot.kind,
        "definition": snapshot.definition,
        "request": snapshot.request,
        "deadline": snapshot.deadline,
        "waiting_step": snapshot.waiting_step,
        "question": snapshot.question,
        "steps": [record.to_dict() for record in snapshot.steps],
        "span": snapshot.span,
        "state": {
            "run_id": state.run_id,
            "values": state.values,
            "outputs": state.outputs,
            "records": [record.to_dict() for record in state.records.values()],
            "completed": state.completed,
        },
    }


def _decode(data: dict[str, Any]) -> Snapshot:
    saved = data["state"]
    state = RunState(saved["values"], run_id=saved["run_id"])
    state.outputs.update(saved["outputs"])
    state.records.update((r["step_id"], _record(r)) for r in saved["records"])
    state.completed.extend(saved["completed"])
    return Snapshot(
        kind=data["kind"],
        definition=data["definition"],
        request=data["request"],
        deadline=data["deadline"],
        waiting_step=data["waiting_step"],
        question=data["question"],
        steps=tuple(_record(r) for r in data["steps"]),
        state=state,
        span=data.get("span"),  # absent from snapshots kept before tracing
    )


def _record(data: dict[str, Any]) -> StepRecord:
    """A :class:`StepRecord` from its :meth:`~StepRecord.to_dict` form."""
    fields = dict(data)
    fields["started_at"] = datetime.fromisoformat(fields["started_at"])
    fields["events"] = tuple(CallEvent(**event) for event in fields["events"])
    return StepRecord(**fields)
