"""Chat sessions and their turns, kept in ``runs.database`` beside the runs they made.

A session is an id and its turns, oldest first. A turn is one request (or one
direct ``/chat`` message): its text, the run it made, how it ended, the answer
(as JSON) and what it spent. ``agent-host chat -c`` continues the session used
last; ``--session ID`` a given one. The newest ``keep`` sessions are kept.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from host.redaction import redact
from host.sqlite_store import SQLiteStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS chat_sessions (
    session_id TEXT PRIMARY KEY,
    started_at REAL NOT NULL,
    used_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS chat_sessions_by_use ON chat_sessions (used_at);
CREATE TABLE IF NOT EXISTS chat_turns (
    session_id TEXT NOT NULL REFERENCES chat_sessions (session_id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    kind TEXT NOT NULL,
    request TEXT NOT NULL,
    status TEXT NOT NULL,
    answer TEXT,
    run_id TEXT,
    tokens_in INTEGER,
    tokens_out INTEGER,
    cost REAL,
    PRIMARY KEY (session_id, number)
);
"""

_TURN_COLUMNS = "kind, request, status, answer, run_id, tokens_in, tokens_out, cost"

TurnKind = Literal["run", "chat", "team"]
"""``run``: a request the host planned and executed; ``chat``: a direct ``/chat`` message;
``team``: a ``/team`` run of a team of agents."""


@dataclass(frozen=True, slots=True)
class Turn:
    """One request of a session and how it ended."""

    kind: TurnKind
    request: str
    status: str
    """The run's status (``ok``, ``failed``, ``needs_human``, ``cancelled``...)."""
    answer: Any = None
    run_id: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost: float | None = None


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A session as ``/sessions`` lists it."""

    session_id: str
    started_at: datetime
    used_at: datetime
    turns: int
    first_request: str | None


class Sessions(SQLiteStore):
    """Chat sessions by id, the newest ``keep`` kept (``:memory:`` keeps them for this process).

    Requests and answers are stored with every configured secret masked.
    """

    def __init__(self, database: str | Path = ":memory:", *, keep: int = 200) -> None:
        super().__init__(database, _SCHEMA)
        self._db.execute("PRAGMA foreign_keys = ON")
        # As the run store's: synced at checkpoints, so a turn costs no fsync (a power cut,
        # not a crash, may lose the last turns).
        self._db.execute("PRAGMA synchronous = NORMAL")
        self.keep = keep

    @staticmethod
    def new_id() -> str:
        """A fresh session id (a session is stored with its first turn)."""
        return os.urandom(6).hex()

    def last(self) -> str | None:
        """The session used last, if any."""
        with self._lock:
            row = self._db.execute(
                "SELECT session_id FROM chat_sessions ORDER BY used_at DESC, rowid DESC LIMIT 1"
            ).fetchone()
        return None if row is None else str(row[0])

    def find(self, session_id: str) -> str | None:
        """The session ``session_id``, or the only one whose id starts with it (none for a
        blank id, which every id would start with)."""
        if not session_id.strip():
            return None
        with self._lock:
            rows = self._db.execute(
                "SELECT session_id FROM chat_sessions WHERE session_id = ? "
                "OR substr(session_id, 1, ?) = ? LIMIT 2",
                (session_id, len(session_id), session_id),
            ).fetchall()
        exact = [row for row in rows if row[0] == session_id]
        found = exact or rows
        return str(found[0][0]) if len(found) == 1 else None

    def add(self, session_id: str, turn: Turn) -> None:
        """Append ``turn`` to the session; a session's first turn stores it and drops the
        oldest sessions past :attr:`keep`."""
        now = time.time()
        with self._lock, self._db:
            created = self._db.execute(
                "INSERT OR IGNORE INTO chat_sessions VALUES (?, ?, ?)", (session_id, now, now)
            ).rowcount
            if not created:
                self._db.execute(
                    "UPDATE chat_sessions SET used_at = ? WHERE session_id = ?", (now, session_id)
                )
            self._db.execute(
                f"INSERT INTO chat_turns (session_id, number, {_TURN_COLUMNS}) VALUES (?, "
                "(SELECT COUNT(*) FROM chat_turns WHERE session_id = ?), ?, ?, ?, ?, ?, ?, ?, ?)",
                (session_id, session_id, *_values(turn)),
            )
            if created:
                self._db.execute(
                    "DELETE FROM chat_sessions WHERE rowid IN (SELECT rowid FROM chat_sessions "
                    "ORDER BY used_at DESC, rowid DESC LIMIT -1 OFFSET ?)",
                    (self.keep,),
                )

    def replace(self, session_id: str, turn: Turn) -> bool:
        """Put how ``turn`` ended (status, answer, spending) in place of the session's turn of
        the same run (a resumed run, whose kind and words stay); whether there was one."""
        with self._lock, self._db:
            changed = self._db.execute(
                "UPDATE chat_turns SET (status, answer, tokens_in, tokens_out, cost) = "
                "(?, ?, ?, ?, ?) WHERE session_id = ? AND run_id = ?",
                (*_values(turn)[2:4], *_values(turn)[5:], session_id, turn.run_id),
            ).rowcount
            if changed:
                self._db.execute(
                    "UPDATE chat_sessions SET used_at = ? WHERE session_id = ?",
                    (time.time(), session_id),
                )
        return changed > 0

    def turns(self, session_id: str) -> list[Turn]:
        """The session's turns, oldest first (none for a session not stored yet)."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_TURN_COLUMNS} FROM chat_turns WHERE session_id = ? ORDER BY number",
                (session_id,),
            ).fetchall()
        return [
            Turn(kind, request, status, None if answer is None else json.loads(answer), *rest)
            for kind, request, status, answer, *rest in rows
        ]

    def recent(self, limit: int = 10) -> list[SessionInfo]:
        """The sessions used last, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT s.session_id, s.started_at, s.used_at, COUNT(t.number), "
                "(SELECT request FROM chat_turns WHERE session_id = s.session_id AND number = 0) "
                "FROM chat_sessions s LEFT JOIN chat_turns t ON t.session_id = s.session_id "
                "GROUP BY s.session_id ORDER BY s.used_at DESC, s.rowid DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            SessionInfo(session_id, _utc(started), _utc(used), turns, first)
            for session_id, started, used, turns, first in rows
        ]


def _values(turn: Turn) -> tuple[Any, ...]:
    """A turn's columns, every configured secret masked (as the run store masks them)."""
    answer = None if turn.answer is None else redact(json.dumps(turn.answer, default=str))
    return (
        turn.kind,
        redact(turn.request),
        turn.status,
        answer,
        turn.run_id,
        turn.tokens_in,
        turn.tokens_out,
        turn.cost,
    )


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
