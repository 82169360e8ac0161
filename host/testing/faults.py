"""Native tools that misbehave on cue, for testing what runs around a plugin.

A :class:`FaultyTool` is a Semantic Kernel plugin with one function,
``count``, declared to take a ``query`` string and return an ``int``. Each call
plays the next behaviour of its script -- :class:`Fail`, :class:`Return` or
:class:`Stall` -- and the last behaviour repeats once the script is spent, so
``FaultyTool(Fail(ConnectionError()), Fail(ConnectionError()), Return(3))``
fails twice and then answers 3 for ever. :attr:`FaultyTool.calls` counts the
calls that reached the tool.

Add one to a kernel with ``kernel.add_plugin(tool, plugin_name=tool.plugin_name)``.
For ``AgentHost(plugin_dirs=...)``, subclass it in a plugin file so the loader
finds a class of that module it can build without arguments::

    class FlakyCount(FaultyTool):
        plugin_name = "flaky"

        def __init__(self) -> None:
            super().__init__(Fail(ConnectionError("down")), Return(3))
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, TypeAlias, cast

from semantic_kernel.functions import kernel_function


@dataclass(frozen=True)
class Fail:
    """Raise ``error`` from the call."""

    error: BaseException


@dataclass(frozen=True)
class Return:
    """Return ``value``, whatever its type."""

    value: Any


@dataclass(frozen=True)
class Stall:
    """Never return: the call waits until it is cancelled, as a hung tool does."""


Behaviour: TypeAlias = Fail | Return | Stall


class FaultyTool:
    """A plugin whose ``count`` function plays a script of behaviours, one per call."""

    plugin_name: ClassVar[str] = "faulty"

    def __init__(self, *script: Behaviour) -> None:
        self.calls = 0
        """How many calls reached the tool, including those still running."""
        self.script(*script)

    def script(self, *script: Behaviour) -> FaultyTool:
        """Play ``script`` from the next call on, counting calls from 0 again."""
        if not script:
            raise ValueError("FaultyTool needs at least one behaviour, e.g. Return(1)")
        self._script = script
        self.calls = 0
        return self

    @kernel_function(description="Count the items that match a query.")
    async def count(
        self, query: Annotated[str, "What to count."]
    ) -> Annotated[int, "How many items match."]:
        behaviour = self._script[min(self.calls, len(self._script) - 1)]
        self.calls += 1
        if isinstance(behaviour, Return):
            return cast(int, behaviour.value)  # may be of any type: that is the point
        if isinstance(behaviour, Fail):
            raise behaviour.error
        await asyncio.get_running_loop().create_future()
        raise AssertionError("a stalled call ends only by cancellation")


def raises(error: BaseException) -> FaultyTool:
    """A tool that raises ``error`` on every call."""
    return FaultyTool(Fail(error))


def hangs() -> FaultyTool:
    """A tool whose every call waits until cancelled.

    It waits on a bare future, not on a clock: a virtual clock skipping ahead
    must not end the hang, only the caller's timeout may.
    """
    return FaultyTool(Stall())


def fails_then_succeeds(n: int, error: BaseException, value: object = 1) -> FaultyTool:
    """A tool that raises ``error`` on its first ``n`` calls, then returns ``value``."""
    return FaultyTool(*[Fail(error)] * n, Return(value))


def returns_wrong_type(value: object = "many") -> FaultyTool:
    """A tool declared to return ``int`` that returns ``value`` (a ``str`` by default)."""
    return FaultyTool(Return(value))
