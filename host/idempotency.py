"""Idempotency keys for side-effecting steps: an effect done once is replayed, never repeated.

A side-effecting step's key is ``<run id>/<step id>``; the n-th visit (n ≥ 2) of
a workflow node is ``<run id>/<node>#<n>``, the compensation of a step
``<run id>/compensate:<step id>``, and the alternative function a step's
validation falls back to ``<run id>/alternative:<step id>`` (of the n-th visit,
``alternative:<node>#<n>``). Step and node ids are names (letters, digits and
``_``), so no id can produce a generated key and no two kinds of key collide,
whatever the run id.

Each effect is written down twice in SQLite: its *intent* just before the call,
its *outcome* (the output) as soon as the call returns. Running the same step
of the same run again (a resumed run, a re-executed run id) answers from a
recorded outcome instead of acting twice. An intent without an outcome means
the process acting stopped in between, so whether the effect happened is
unknown; :class:`~host.steps.StepRunner` decides what to do about it. A call
that raises did not act (the resilience chain retries it on that footing), so
its intent is dropped. The default database is in memory; ``runs.database`` in
``host.yaml`` makes keys outlive the process.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from host.redaction import redact
from host.sqlite_store import SQLiteStore, json_text

EffectState = Literal["new", "pending", "done"]
"""``new``: never attempted; ``pending``: intended, outcome unknown; ``done``: outcome recorded."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS effects (
    key TEXT PRIMARY KEY,
    function TEXT NOT NULL,
    output TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS intents (
    key TEXT PRIMARY KEY,
    function TEXT NOT NULL
);
"""


def effect_key(run_id: str, effect: str) -> str:
    """The key of ``effect`` (a step id, ``node#n`` or a :func:`compensation`) in run ``run_id``."""
    return f"{run_id}/{effect}"


COMPENSATION = "compensate:"
"""How the effect name of a call that undoes a step begins."""


def compensation(step_id: str) -> str:
    """The effect name of the call that undoes step ``step_id``: ``compensate:<step id>``."""
    return f"{COMPENSATION}{step_id}"


def alternative(effect: str) -> str:
    """The effect name of the alternative function that answers for ``effect`` (a step id,
    ``node#n`` or a :func:`compensation`) when its output fails validation."""
    return f"alternative:{effect}"


class IdempotencyStore(SQLiteStore):
    """Intents and outcomes of side-effecting steps, by idempotency key."""

    def __init__(self, database: str | Path = ":memory:") -> None:
        super().__init__(database, _SCHEMA)

    def get(self, key: str) -> tuple[EffectState, Any]:
        """``("done", output)`` when ``key``'s outcome is recorded, else ``("pending", None)``
        when only its intent is, else ``("new", None)``."""
        with self._lock:
            row = self._db.execute("SELECT output FROM effects WHERE key = ?", (key,)).fetchone()
            if row is not None:
                return "done", json.loads(row[0])
            intent = self._db.execute("SELECT 1 FROM intents WHERE key = ?", (key,)).fetchone()
        return ("pending" if intent is not None else "new"), None

    def intend(self, key: str, function: str) -> None:
        """Record that ``function`` is about to act under ``key`` (committed before it acts)."""
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO intents (key, function) VALUES (?, ?)", (key, function)
            )

    def put(self, key: str, function: str, output: Any) -> None:
        """Record that ``key``'s effect is done, with its output (its intent is settled)."""
        text = redact(json_text(output))
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO effects (key, function, output) VALUES (?, ?, ?)",
                (key, function, text),
            )
            self._db.execute("DELETE FROM intents WHERE key = ?", (key,))

    def abandon(self, key: str) -> None:
        """Drop ``key``'s intent: its call raised, so it did not act."""
        with self._lock, self._db:
            self._db.execute("DELETE FROM intents WHERE key = ?", (key,))
