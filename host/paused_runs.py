"""Runs waiting for a person, kept in SQLite so they can be resumed later, even elsewhere.

When a run pauses as ``needs_human``, the host stores what resuming needs: the
plan or workflow, the request, the deadline, the waiting step, and the run state
(input values, every step's output and record). ``AgentHost.resume`` takes the
snapshot out (a run is resumed once) and continues from it. The database is the
one ``runs.database`` names, beside the idempotency keys.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from host.sqlite_store import SQLiteStore
from host.state import CallEvent, RunState, StepRecord

Kind = Literal["plan", "workflow"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS paused (
    run_id TEXT PRIMARY KEY,
    snapshot TEXT NOT NULL
)
"""


@dataclass(frozen=True)
class Snapshot:
    """A paused run: what it runs, where it waits, and its state."""

    kind: Kind
    definition: dict[str, Any]
    """The plan, or the workflow, as JSON data."""
    request: str
    deadline: float | None
    waiting_step: str
    question: str
    steps: tuple[StepRecord, ...]
    """The records of the result that paused (a workflow's every node run so far)."""
    state: RunState


class PausedRuns(SQLiteStore):
    """Snapshots of ``needs_human`` runs by run id."""

    def __init__(self, database: str | Path = ":memory:") -> None:
        super().__init__(database, _SCHEMA)

    def keep(self, snapshot: Snapshot) -> None:
        """Store ``snapshot`` under its run id (replacing an earlier pause of that run)."""
        text = json.dumps(_encode(snapshot), ensure_ascii=False, default=str)
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO paused (run_id, snapshot) VALUES (?, ?)",
                (snapshot.state.run_id, text),
            )

    def take(self, run_id: str) -> Snapshot | None:
        """The snapshot of ``run_id``, removed from the store; None if it is not waiting.

        One statement reads and deletes it, so of two processes taking the same run
        only one gets it.
        """
        with self._lock, self._db:
            rows = self._db.execute(
                "DELETE FROM paused WHERE run_id = ? RETURNING snapshot", (run_id,)
            ).fetchall()
        return _decode(json.loads(rows[0][0])) if rows else None

    def waiting(self) -> list[str]:
        """The ids of every run waiting for a person."""
        with self._lock:
            rows = self._db.execute("SELECT run_id FROM paused ORDER BY run_id").fetchall()
        return [row[0] for row in rows]


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
    )


def _record(data: dict[str, Any]) -> StepRecord:
    """A :class:`StepRecord` from its :meth:`~StepRecord.to_dict` form."""
    fields = dict(data)
    fields["started_at"] = datetime.fromisoformat(fields["started_at"])
    fields["events"] = tuple(CallEvent(**event) for event in fields["events"])
    return StepRecord(**fields)
