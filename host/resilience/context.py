"""The per-call context: one immutable object that travels down the filter chain with a call.

As Temporal's interceptors each receive one input object, each layer of the
chain receives the call's :class:`CallContext` and passes it, or a changed
copy, to the next. It holds everything layers tell each other: the target and
its policy, the model a fallback hop chose, the route's fallback models, the
attempt number, the run's deadline, the side-effect ledgers and the step's
journal. No layer reads another's state from a global.

One context variable, :data:`current`, remains: it bridges the seam where
Semantic Kernel gives no argument to pass the context through. Inside a call,
SK runs the function, asks the service selector which model serves it, and
runs the tools the model calls; those see the context of the call they run
in. The invoker (and a run's deadline scope) set it before they call the function.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from semantic_kernel.filters.functions.function_invocation_context import (
        FunctionInvocationContext,
    )

    from host.resilience.guard import Target
    from host.state import CallEvent

SKNext = Callable[["FunctionInvocationContext"], Awaitable[None]]
"""SK's own ``next`` in a function-invocation filter: runs the function."""


class CallContext(NamedTuple):
    """What one call carries down the chain (see the module docstring).

    A named tuple: as immutable as a frozen dataclass, and built in a fraction
    of the time, which counts on every call's path.
    """

    target: Target | None = None
    """Who this call goes to; set at the top of the chain, changed by a fallback hop."""
    model: str | None = None
    """The model a fallback hop sends a prompt function to (SK's selector serves it)."""
    route_fallbacks: tuple[str, ...] = ()
    """A routed step's other capable models, tried after the policy's own fallbacks."""
    attempt: int = 1
    deadline: tuple[float, float] | None = None
    """``(absolute clock time, total seconds)`` of the run's deadline, if any."""
    bounded: bool = False
    """Whether an outer call already enforces :attr:`deadline` (nested calls share it)."""
    ledgers: tuple[list[str], ...] = ()
    """The side-effect ledger of every enclosing call that may repeat work, innermost last."""
    journal: list[CallEvent] | None = None
    """The running step's events; ``None`` outside a step."""
    function: SKNext | None = None
    """What runs at the bottom of the chain: SK's own invocation of the function."""
    hop: bool = False
    """Whether this call is a fallback hop (another model, or a fallback function), or a
    call made inside one (a tool the fallback model calls)."""

    @classmethod
    def of_step(
        cls,
        route_fallbacks: tuple[str, ...],
        deadline: tuple[float, float] | None,
        journal: list[CallEvent],
    ) -> CallContext:
        """The context a step's call starts from: no target yet, the run's deadline
        (not yet enforced by any call) and the step's journal."""
        fields = (None, None, route_fallbacks, 1, deadline, False, (), journal, None, False)
        return _new_tuple(cls, fields)

    def entering(self, target: Target, function: SKNext) -> CallContext:
        """The context of a call to ``target`` made inside this one: its first attempt."""
        # ``tuple.__new__`` skips the named tuple's keyword-parsing ``__new__``: every call
        # enters here, and this builds the context in half the time.
        return _new_tuple(
            CallContext,
            (
                target,
                self.model,
                self.route_fallbacks,
                1,
                self.deadline,
                self.bounded,
                self.ledgers,
                self.journal,
                function,
                self.hop,
            ),
        )

    def but(self, **changes: Any) -> CallContext:
        """A copy with ``changes``: what a layer hands to the next."""
        return self._replace(**changes)

    def record(self, event: CallEvent) -> None:
        """Add ``event`` to the step's journal (nothing outside a step)."""
        if self.journal is not None:
            self.journal.append(event)

    def note_effect(self, target: str) -> None:
        """``target`` acted on the world: tell every enclosing call that may repeat work."""
        for ledger in self.ledgers:
            ledger.append(target)

    def effects_done(self) -> list[str]:
        """The side effects of the innermost call that keeps a ledger (none if none does)."""
        return self.ledgers[-1] if self.ledgers else []


_new_tuple = tuple.__new__

OUTSIDE = CallContext()
"""The context of code that runs outside any call."""

current: ContextVar[CallContext] = ContextVar("agent_host_call", default=OUTSIDE)
"""The context of the call running in this task, for SK's seams only (module docstring)."""

tool_call: ContextVar[tuple[str, str] | None] = ContextVar("agent_host_tool_call", default=None)
"""``(function, call id)`` of the model's tool call being run here: its span names the id."""


class Entered:
    """``with Entered(call):`` makes ``call`` the current context for the block."""

    __slots__ = ("_call", "_token")

    def __init__(self, call: CallContext) -> None:
        self._call = call

    def __enter__(self) -> CallContext:
        self._token: Token[CallContext] = current.set(self._call)
        return self._call

    def __exit__(self, *exc_info: object) -> None:
        current.reset(self._token)
