"""The step journal: every attempt, fallback hop, cache serve and breaker change of one step.

Filters record :class:`CallEvent` s into the journal of the step being run (a
context variable), so nested calls — a tool the model called, a fallback
function — land in the same step's record. Tracing turns these into spans.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import asdict, dataclass
from typing import Any, Literal

from host.errors import describe_error

EventKind = Literal[
    "attempt",
    "fallback",
    "cache_hit",
    "stale_served",
    "breaker",
    "rejected",
    "validation",
    "on_fail",
    "replayed",
    "answered",
]


@dataclass(frozen=True)
class CallEvent:
    """One thing that happened while running a step.

    ``outcome`` is ``ok``/``error``/``timeout`` for attempts, the hop's result for
    fallbacks, the new state (``open``/``half_open``/``closed``) for breakers,
    ``invalid_arguments`` for a model's tool call that was rejected, ``ok``/``failed``
    for a validation, the path's result for an ``on_fail`` step (retry, alternative,
    human, abort), and ``ok`` for an idempotent ``replayed`` effect and a person's
    ``answered`` hand-off.
    """

    kind: EventKind
    target: str
    outcome: str
    attempt: int | None = None
    model: str | None = None
    """The configured model, when the target is a model call."""
    error_type: str | None = None
    error: str | None = None
    latency_ms: float | None = None

    @classmethod
    def failed(
        cls, kind: EventKind, target: str, outcome: str, error: BaseException, **fields: Any
    ) -> CallEvent:
        """An event caused by ``error``: its class name and one-line description filled in."""
        return cls(
            kind=kind,
            target=target,
            outcome=outcome,
            error_type=type(error).__name__,
            error=describe_error(error),
            **fields,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return asdict(self)


class Journal:
    """The events of one step, in the order they happened; a ``with`` block collects them.

    One object is both the journal and its scope: one is opened per step.
    """

    __slots__ = ("_token", "events")

    def __init__(self) -> None:
        self.events: list[CallEvent] = []

    def __enter__(self) -> Journal:
        self._token = _current.set(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        _current.reset(self._token)


_current: ContextVar[Journal | None] = ContextVar("agent_host_journal", default=None)


def record(event: CallEvent) -> None:
    """Add ``event`` to the running step's journal (no-op outside a step)."""
    journal = _current.get()
    if journal is not None:
        journal.events.append(event)


def current_journal() -> Journal | None:
    """The running step's journal, if one is open (filters skip building events when not)."""
    return _current.get()


def step_journal() -> Journal:
    """Collect the events of the calls made inside the block: ``with step_journal() as j``."""
    return Journal()
