"""Side effects done inside a call: once one happened, a retry or fallback would repeat it.

Each call's fallback filter opens a ledger; a side-effecting function that
succeeds is noted in the ledger of every call around it. A model call that
already made a tool send an email is then neither retried nor sent elsewhere.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

_ledgers: ContextVar[tuple[list[str], ...]] = ContextVar("agent_host_effects", default=())


@contextlib.contextmanager
def effects_ledger() -> Iterator[list[str]]:
    """A ledger for the call made inside the block (nested calls report into it too)."""
    ledger: list[str] = []
    token = _ledgers.set((*_ledgers.get(), ledger))
    try:
        yield ledger
    finally:
        _ledgers.reset(token)


def note_effect(target: str) -> None:
    """Record that ``target`` acted on the world, in every enclosing call's ledger."""
    for ledger in _ledgers.get():
        ledger.append(target)


def effects_done() -> list[str]:
    """The side effects of the innermost call so far (empty outside any call)."""
    ledgers = _ledgers.get()
    return ledgers[-1] if ledgers else []
