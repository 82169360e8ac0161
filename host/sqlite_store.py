"""The SQLite file behind the host's run stores (idempotency keys, paused runs)."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from host.errors import ConfigError


def json_text(value: Any) -> str:
    """``value`` as JSON text SQLite can store: non-ASCII text as it is, unless some text
    is not UTF-8 (a lone surrogate, as a command line's undecodable bytes give), which
    is then kept escaped and reads back the same."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    try:
        text.encode()
    except UnicodeEncodeError:
        return json.dumps(value, default=str)
    return text


def storable(text: str) -> str:
    """``text`` with what UTF-8 cannot hold (the surrogate escapes of bytes that were not
    UTF-8, read from a terminal, a pipe or a command line) as ``?``: SQLite refuses a
    string holding one."""
    return text.encode("utf-8", "replace").decode("utf-8")


def cannot_open(database: str | Path, problem: sqlite3.Error) -> ConfigError:
    """The error for a ``runs.database`` file SQLite cannot use (not a database, say)."""
    return ConfigError([f"runs.database: cannot open {database} ({problem})"])


class SQLiteStore:
    """One connection, usable from any thread, with ``schema`` created on open.

    ``database`` is a file path (its folder is created) or ``:memory:``; ``schema``
    is one or more ``CREATE ... IF NOT EXISTS`` statements.
    """

    def __init__(self, database: str | Path, schema: str) -> None:
        self._db = _connect(database, schema)
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the database."""
        self._db.close()


def _connect(database: str | Path, schema: str) -> sqlite3.Connection:
    """A connection to ``database`` with ``schema`` created; a folder that cannot be
    made or a file SQLite cannot use is a :class:`ConfigError` naming ``runs.database``."""
    if str(database) != ":memory:":
        try:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as problem:
            raise ConfigError(
                [f"runs.database: cannot create the folder of {database} ({problem.strerror})"]
            ) from None
    db = None
    try:
        db = sqlite3.connect(str(database), check_same_thread=False)
        with db:
            db.executescript(schema)
    except sqlite3.Error as problem:
        if db is not None:
            db.close()
        raise cannot_open(database, problem) from None
    return db
