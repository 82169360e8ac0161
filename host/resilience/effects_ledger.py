"""Side effects done inside a call: once one happened, a retry or fallback would repeat it.

Each call's fallback filter opens a ledger; a side-effecting function that
succeeds is noted in the ledger of every call around it. A model call that
already made a tool send an email is then neither retried nor sent elsewhere.
"""

from __future__ import annotations

from contextvars import ContextVar, Token

_ledgers: ContextVar[tuple[list[str], ...]] = ContextVar("agent_host_effects", default=())


def open_ledger() -> tuple[list[str], Token[tuple[list[str], ...]]]:
    """A ledger for the call about to run (nested calls report into it too).

    Pass the token to :func:`close_ledger` when the call is over. A plain pair
    of functions rather than a context manager: this is on every call's path.
    """
    ledger: list[str] = []
    return ledger, _ledgers.set((*_ledgers.get(), ledger))


def close_ledger(token: Token[tuple[list[str], ...]]) -> None:
    """Close the ledger opened with ``token``."""
    _ledgers.reset(token)


def note_effect(target: str) -> None:
    """Record that ``target`` acted on the world, in every enclosing call's ledger."""
    for ledger in _ledgers.get():
        ledger.append(target)


def effects_done() -> list[str]:
    """The side effects of the innermost call so far (empty outside any call)."""
    ledgers = _ledgers.get()
    return ledgers[-1] if ledgers else []
