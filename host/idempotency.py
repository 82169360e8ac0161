"""Idempotency keys for side-effecting steps: an effect done once is replayed, never repeated.

A side-effecting step's key is ``<run id>/<step id>``; the n-th visit (n ≥ 2) of
a workflow node is ``<run id>/<node>#<n>``, and the compensation of a step
``<run id>/compensate:<step id>``. Step and node ids are names (letters, digits
and ``_``), so no id can produce a generated key and no two kinds of key
collide, whatever the run id. A step's output is stored in SQLite when it
succeeds; running the same step of the same run again (a resumed run, a
re-executed run id) answers from the store instead of acting twice. The
default database is in memory; ``runs.database`` in ``host.yaml`` makes keys
outlive the process.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from host.sqlite_store import SQLiteStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS effects (
    key TEXT PRIMARY KEY,
    function TEXT NOT NULL,
    output TEXT NOT NULL
)
"""


def effect_key(run_id: str, effect: str) -> str:
    """The key of ``effect`` (a step id, ``node#n`` or a :func:`compensation`) in run ``run_id``."""
    return f"{run_id}/{effect}"


def compensation(step_id: str) -> str:
    """The effect name of the call that undoes step ``step_id``: ``compensate:<step id>``."""
    return f"compensate:{step_id}"


class IdempotencyStore(SQLiteStore):
    """Outputs of completed side-effecting steps, by idempotency key."""

    def __init__(self, database: str | Path = ":memory:") -> None:
        super().__init__(database, _SCHEMA)

    def get(self, key: str) -> tuple[bool, Any]:
        """``(True, output)`` when ``key``'s effect is done, else ``(False, None)``."""
        with self._lock:
            row = self._db.execute("SELECT output FROM effects WHERE key = ?", (key,)).fetchone()
        return (True, json.loads(row[0])) if row is not None else (False, None)

    def put(self, key: str, function: str, output: Any) -> None:
        """Record that ``key``'s effect is done, with its output."""
        text = json.dumps(output, ensure_ascii=False, default=str)
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO effects (key, function, output) VALUES (?, ?, ?)",
                (key, function, text),
            )
