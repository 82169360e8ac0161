"""Run ids: random, 32 hex digits, never the same twice, across pool refills and threads."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from host import run_ids
from host.run_ids import POOL, new_run_id


def test_ids_are_32_hex_digits_and_never_repeat_across_refills() -> None:
    drawn = [new_run_id() for _ in range(POOL * 3 + 7)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", run_id) for run_id in drawn)
    assert len(set(drawn)) == len(drawn)


def test_threads_drawing_at_once_get_distinct_ids() -> None:
    with ThreadPoolExecutor(8) as threads:
        drawn = list(threads.map(lambda _: new_run_id(), range(POOL * 4)))
    assert len(set(drawn)) == len(drawn)


def test_one_draw_from_the_os_serves_a_pool_of_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def urandom(size: int) -> bytes:
        calls.append(size)
        return bytes(range(256)) * (size // 256)

    monkeypatch.setattr(run_ids, "_pool", b"")
    monkeypatch.setattr(run_ids, "_taken", 0)
    monkeypatch.setattr(run_ids.os, "urandom", urandom)
    first = [new_run_id() for _ in range(POOL)]
    assert calls == [16 * POOL]
    assert first[0] == bytes(range(16)).hex()
    new_run_id()
    assert calls == [16 * POOL] * 2
