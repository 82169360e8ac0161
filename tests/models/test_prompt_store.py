"""Prompt prefixes on disk: kept atomically, found again by a new store, held to a budget."""

from __future__ import annotations

import os
from pathlib import Path

from host.models.prompt_store import PromptStore


def test_a_new_store_over_the_folder_finds_what_an_earlier_one_saved(tmp_path: Path) -> None:
    PromptStore(tmp_path, 1 << 20).save((2, 7, 9), b"state bytes")

    again = PromptStore(tmp_path, 1 << 20)

    assert again.prefixes() == [(2, 7, 9)]
    assert again.load((2, 7, 9)) == b"state bytes"
    assert [path.suffix for path in tmp_path.iterdir()] == [".prefix"]  # no temporary left


def test_the_least_recently_used_copies_go_first_when_over_budget(tmp_path: Path) -> None:
    store = PromptStore(tmp_path, 300)
    store.save((1,), b"a" * 100)
    store.save((2,), b"b" * 100)
    for path in tmp_path.glob("*.prefix"):
        os.utime(path, ns=(1_000_000_000, 1_000_000_000))  # both long unused
    assert store.load((1,)) is not None  # (1,) used again now

    store.save((3,), b"c" * 100)

    assert sorted(store.prefixes()) == [(1,), (3,)]
    assert len(list(tmp_path.glob("*.prefix"))) == 2


def test_a_state_larger_than_the_budget_is_not_kept(tmp_path: Path) -> None:
    store = PromptStore(tmp_path, 10)

    store.save((1, 2), b"x" * 11)

    assert store.prefixes() == []
    assert list(tmp_path.iterdir()) == []


def test_a_file_that_is_not_a_prefix_copy_is_removed_and_ignored(tmp_path: Path) -> None:
    (tmp_path / "junk.prefix").write_bytes(b"not ours")
    PromptStore(tmp_path, 1 << 20).save((5, 6), b"state")
    kept = next(path for path in tmp_path.iterdir() if path.name != "junk.prefix")
    kept.write_bytes(kept.read_bytes()[:30])  # its tokens cut short

    store = PromptStore(tmp_path, 1 << 20)

    assert store.prefixes() == []
    assert list(tmp_path.iterdir()) == []


def test_a_copy_whose_file_vanished_is_forgotten(tmp_path: Path) -> None:
    store = PromptStore(tmp_path, 1 << 20)
    store.save((1, 2, 3), b"state")
    next(tmp_path.glob("*.prefix")).unlink()

    assert store.load((1, 2, 3)) is None
    assert store.prefixes() == []


def test_an_unwritable_folder_only_loses_the_copy(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("a file where the folder would be")
    store = PromptStore(blocked / "prefixes", 1 << 20)

    store.save((1,), b"state")

    assert store.prefixes() == []
