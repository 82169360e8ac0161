"""What a run is doing, told as it happens: the live view of a chat REPL or a UI.

``with watching(listener):`` every run started inside the block (in this task and
the tasks it starts) calls ``listener(event)`` on the event loop, as it happens:

- :class:`Planned`: a planned run's plan, before its steps run;
- :class:`CallStarted`: a step's call begins (its route's model and reason; a
  validation retry, judge or alternative of the step starts another);
- :class:`StepEvent`: each event of a step's journal (an attempt and how it ended,
  a fallback hop, a cache hit, a breaker transition, a validation verdict...);
- :class:`StepText`: a piece of the text a step's model is writing, as it comes
  (from a model that streams to :func:`text_sink`: the embedded one);
- :class:`StepFinished`: a step's final record, a failed one too.

A listener must be quick (it runs inside the step); one that raises is logged and
left out of the run. Nothing is told, and nothing costs, outside such a block.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

from host.errors import AgentHostError
from host.resilience.context import current

if TYPE_CHECKING:
    from host.plans import Plan
    from host.state import CallEvent, StepRecord

_log = logging.getLogger("agent_host")


@dataclass(frozen=True, slots=True)
class Planned:
    """A planned run's plan, by the planner ``source`` names (``clauses``, ``model``...)."""

    plan: Plan
    source: str


@dataclass(frozen=True, slots=True)
class CallStarted:
    """A call of step ``step_id`` begins: ``function`` on ``model`` (a prompt step's route)."""

    step_id: str
    function: str
    model: str | None
    route_reason: str | None


@dataclass(frozen=True, slots=True)
class StepEvent:
    """One event of step ``step_id``'s journal, as it is recorded."""

    step_id: str
    event: CallEvent


@dataclass(frozen=True, slots=True)
class StepText:
    """A piece of the text step ``step_id``'s model is generating, in order."""

    step_id: str
    text: str


@dataclass(frozen=True, slots=True)
class StepFinished:
    """A step's final record (after validation), ``ok`` or ``failed``."""

    record: StepRecord


Progress = Planned | CallStarted | StepEvent | StepText | StepFinished
Listener = Callable[[Progress], object]

_listener: ContextVar[Listener | None] = ContextVar("agent_host_progress", default=None)


@contextmanager
def watching(listener: Listener) -> Iterator[None]:
    """Inside the block, runs tell ``listener`` their progress (see the module docstring)."""
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)


def listener() -> Listener | None:
    """The listener runs tell here, if any."""
    return _listener.get()


def tell(listener: Listener, event: Progress) -> None:
    """Give ``listener`` ``event``; an error it raises is logged, not raised."""
    try:
        listener(event)
    except Exception as error:  # a view's bug must not fail the run it watches
        _log.warning("progress listener failed on %s: %r", type(event).__name__, error)


async def reported(running: Awaitable[StepRecord]) -> StepRecord:
    """``running``'s record; inside :func:`watching`, told as a step's final record, and a
    failure's (``error.step``) before the error goes on."""
    watcher = _listener.get()
    if watcher is None:
        return await running
    try:
        record = await running
    except AgentHostError as error:
        if error.step is not None:
            tell(watcher, StepFinished(error.step))
        raise
    tell(watcher, StepFinished(record))
    return record


def text_sink() -> Callable[[str], None] | None:
    """Where a model call running here tells the text it generates, piece by piece: set
    while a watched step's call runs, else ``None`` (the model need not stream). Call it
    on the event loop's thread."""
    journal = current.get().journal
    return journal.streamed if isinstance(journal, TellingJournal) else None


class TellingJournal(list["CallEvent"]):
    """A step's journal that tells ``listener`` of each event appended to it."""

    __slots__ = ("_listener", "_step_id")

    def __init__(self, listener: Listener, step_id: str) -> None:
        super().__init__()
        self._listener, self._step_id = listener, step_id

    def append(self, event: CallEvent) -> None:
        super().append(event)
        tell(self._listener, StepEvent(self._step_id, event))

    def streamed(self, text: str) -> None:
        """Tell a piece of the text the step's model is generating."""
        tell(self._listener, StepText(self._step_id, text))
