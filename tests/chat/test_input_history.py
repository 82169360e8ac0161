"""The input history file: kept across chats, bounded."""

from __future__ import annotations

from pathlib import Path

from prompt_toolkit.history import FileHistory

from host.chat.repl import HISTORY_KEPT, trim_history


def test_the_history_file_keeps_its_newest_entries_only(tmp_path: Path) -> None:
    path = tmp_path / "state" / "chat-history"
    path.parent.mkdir()
    written = FileHistory(str(path))
    for number in range(HISTORY_KEPT + 5):
        written.store_string(f"request {number}\nsecond line")
    kept = list(FileHistory(str(trim_history(path))).load_history_strings())  # newest first
    assert len(kept) == HISTORY_KEPT
    assert kept[0] == f"request {HISTORY_KEPT + 4}\nsecond line"
    assert kept[-1] == "request 5\nsecond line"


def test_a_missing_history_file_gets_its_folder(tmp_path: Path) -> None:
    path = trim_history(tmp_path / "state" / "chat-history")
    assert path.parent.is_dir() and not path.exists()
