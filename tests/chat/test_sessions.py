"""Chat sessions and turns in a real SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from host.chat.sessions import Sessions, Turn
from host.redaction import register


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[Sessions]:
    store = Sessions(tmp_path / "runs.sqlite3")
    yield store
    store.close()


def test_turns_come_back_in_order_with_their_answers_and_figures(sessions: Sessions) -> None:
    turns = [
        Turn("run", "check the weather", "ok", {"max_c": 18}, "r1", 12, 30, 0.0021),
        Turn("chat", "hello", "ok", "Hi!", None, 3, 1, None),
        Turn("run", "count the visitors", "cancelled"),
    ]
    for turn in turns:
        sessions.add("s1", turn)
    assert sessions.turns("s1") == turns
    assert sessions.turns("elsewhere") == []


def test_the_last_session_is_the_one_used_last_and_kept_in_the_file(tmp_path: Path) -> None:
    store = Sessions(tmp_path / "runs.sqlite3")
    store.add("aaa111", Turn("run", "one", "ok"))
    store.add("bbb222", Turn("run", "two", "ok"))
    store.add("aaa111", Turn("run", "three", "ok"))
    store.close()
    reopened = Sessions(tmp_path / "runs.sqlite3")
    assert reopened.last() == "aaa111"
    assert [t.request for t in reopened.turns("aaa111")] == ["one", "three"]
    reopened.close()


def test_a_session_is_found_by_its_id_or_a_unique_start(sessions: Sessions) -> None:
    for session in ("abc123", "abd456", "abc"):
        sessions.add(session, Turn("run", "x", "ok"))
    assert sessions.find("abd") == "abd456"
    assert sessions.find("abc") == "abc"  # the whole id wins over a start it shares
    assert sessions.find("ab") is None  # more than one starts so
    assert sessions.find("zzz") is None


def test_a_blank_id_finds_no_session_even_the_only_one(sessions: Sessions) -> None:
    """Kills: a blank id read as the start every id shares, continuing the only session."""
    sessions.add("abc123", Turn("run", "x", "ok"))
    assert sessions.find("") is None and sessions.find(" ") is None


def test_a_resumed_run_replaces_its_turn(sessions: Sessions) -> None:
    sessions.add("s1", Turn("run", "say hello", "needs_human", None, "r1"))
    sessions.add("s1", Turn("run", "greet", "ok", "Hello", "r2"))
    answered = Turn("run", "say hello", "ok", "hi there", "r1", 3, 1, 0.005)
    assert sessions.replace("s1", answered)
    assert sessions.turns("s1")[0] == answered
    assert not sessions.replace("s1", Turn("run", "never", "ok", None, "r9"))


def test_only_the_newest_sessions_are_kept(tmp_path: Path) -> None:
    store = Sessions(tmp_path / "runs.sqlite3", keep=2)
    for session in ("s1", "s2", "s3"):
        store.add(session, Turn("run", f"first of {session}", "ok"))
    assert [info.session_id for info in store.recent()] == ["s3", "s2"]
    assert store.turns("s1") == []  # its turns went with it
    store.close()


def test_recent_sessions_show_their_turns_and_first_request(sessions: Sessions) -> None:
    sessions.add("s1", Turn("run", "greet Alice", "ok"))
    sessions.add("s1", Turn("run", "greet Bob", "ok"))
    sessions.add("s2", Turn("chat", "hello", "ok"))
    listed = [(i.session_id, i.turns, i.first_request) for i in sessions.recent()]
    assert listed == [("s2", 1, "hello"), ("s1", 2, "greet Alice")]


def test_a_configured_secret_is_never_stored(sessions: Sessions, tmp_path: Path) -> None:
    register(["sk-chat-secret-1234"])
    sessions.add("s1", Turn("run", "use sk-chat-secret-1234", "ok", {"key": "sk-chat-secret-1234"}))
    assert b"sk-chat-secret-1234" not in (tmp_path / "runs.sqlite3").read_bytes()
    assert "sk-chat-secret-1234" not in repr(sessions.turns("s1"))
