"""The SQLite file behind the host's run stores (idempotency keys, paused runs)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


class SQLiteStore:
    """One connection, usable from any thread, with ``schema`` created on open.

    ``database`` is a file path (its folder is created) or ``:memory:``.
    """

    def __init__(self, database: str | Path, schema: str) -> None:
        if str(database) != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(database), check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock, self._db:
            self._db.execute(schema)

    def close(self) -> None:
        """Close the database."""
        self._db.close()
