"""An agent's tools: the loaded functions its ``functions:`` names, offered on its turns.

A turn's execution settings carry :class:`AgentTools`, SK's automatic function
choice narrowed to the agent's functions. SK runs each call the model makes
through the kernel (the tool-call argument check, then the resilience chain);
:class:`AgentToolGate` answers a call of any other function with a tool error
and records it as a ``rejected`` event (outcome ``not_allowed``) without running it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from semantic_kernel.connectors.ai.function_choice_behavior import FunctionChoiceBehavior
from semantic_kernel.connectors.ai.function_choice_type import FunctionChoiceType

from host.catalogue import INTERNAL_PLUGIN
from host.errors import ConfigError
from host.resilience.context import current
from host.state import CallEvent

if TYPE_CHECKING:
    from semantic_kernel import Kernel
    from semantic_kernel.connectors.ai.function_call_choice_configuration import (
        FunctionCallChoiceConfiguration,
    )
    from semantic_kernel.filters.auto_function_invocation.auto_function_invocation_context import (
        AutoFunctionInvocationContext,
    )

    from host.config.schema import AgentConfig

AutoNext = Callable[["AutoFunctionInvocationContext"], Awaitable[None]]

NOT_ALLOWED = "`{name}` is not one of your tools ({allowed}); call one of those, or answer."
"""What the model is told instead of the result of a call outside its agent's functions."""


class AgentTools(FunctionChoiceBehavior):
    """SK's automatic function choice offering exactly ``allowed`` (``plugin-function``).

    Its ``filters`` stay open so that SK hands a call of another function to the
    kernel's filters, where :class:`AgentToolGate` refuses and records it.
    """

    allowed: list[str]

    def get_config(self, kernel: Kernel) -> FunctionCallChoiceConfiguration:
        """The functions offered to the model: the agent's, never the host's own."""
        offered = {**(self.filters or {}), "included_functions": self.allowed}
        config: FunctionCallChoiceConfiguration = self._check_and_get_config(kernel, offered)
        return config


def agent_tools(agent: AgentConfig, allowed: Sequence[str]) -> AgentTools:
    """The function choice of ``agent``'s turns: ``allowed`` offered, at most
    ``max_tool_calls`` requests that call tools."""
    return AgentTools(
        type_=FunctionChoiceType.AUTO,
        allowed=list(allowed),
        maximum_auto_invoke_attempts=agent.max_tool_calls,
    )


def resolve_functions(kernel: Kernel, agents: Mapping[str, AgentConfig]) -> dict[str, list[str]]:
    """Each agent's ``functions`` as the loaded functions they name (``plugin-function``).

    Raises :class:`~host.errors.ConfigError` listing every entry that names no loaded
    function (the host's own functions are never tools).
    """
    loaded = [
        (plugin, function.name)
        for plugin, functions in kernel.plugins.items()
        if plugin != INTERNAL_PLUGIN
        for function in functions
    ]
    resolved: dict[str, list[str]] = {}
    problems: list[str] = []
    for name, agent in agents.items():
        found: list[str] = []
        for entry in agent.functions:
            plugin, function = entry.split(".", 1)
            matched = [f"{p}-{f}" for p, f in loaded if p == plugin and function in ("*", f)]
            if not matched:
                problems.append(f"agents.{name}.functions: {entry!r} matches no loaded function")
            found.extend(m for m in matched if m not in found)
        resolved[name] = found
    if problems:
        raise ConfigError(problems)
    return resolved


class AgentToolGate:
    """An SK auto-function-invocation filter: in an agent's turn, a call outside its
    :class:`AgentTools` is answered with :data:`NOT_ALLOWED` and recorded, not run."""

    async def __call__(self, context: AutoFunctionInvocationContext, next: AutoNext) -> None:
        settings = context.execution_settings
        tools = settings.function_choice_behavior if settings is not None else None
        function = context.function
        if not isinstance(tools, AgentTools) or function.fully_qualified_name in tools.allowed:
            await next(context)
            return
        from semantic_kernel.functions import FunctionResult

        name = function.fully_qualified_name.replace("-", ".", 1)
        allowed = ", ".join(a.replace("-", ".", 1) for a in tools.allowed)
        answer = NOT_ALLOWED.format(name=name, allowed=allowed)
        current.get().record(
            CallEvent("rejected", name, "not_allowed", error_type="ToolNotAllowed", error=answer)
        )
        context.function_result = FunctionResult(function=function.metadata, value=answer)
