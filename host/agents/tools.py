"""An agent's tools: the loaded functions its ``functions:`` names, offered on its turns.

A turn's execution settings carry :class:`AgentTools`, SK's automatic function
choice narrowed to the agent's functions. SK runs each call the model makes
through the kernel (the tool-call argument check, then the resilience chain);
:class:`AgentToolGate` answers a call of any other function with a tool error
and records it as a ``rejected`` event (outcome ``not_allowed``) without running it.

In a ``handoff`` team a turn is also offered ``transfer_to_<agent>`` tools (the
host's own functions, one per agent): a call of one runs like any tool call (its
``execute_tool`` span, its attempt), then names the next speaker in the turn's
:class:`Handoff` and ends the turn.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from semantic_kernel.connectors.ai.function_choice_type import FunctionChoiceType

from host.catalogue import INTERNAL_PLUGIN
from host.errors import ConfigError
from host.resilience.context import current
from host.resilience.tool_calls import NamedTools, answering
from host.state import CallEvent

if TYPE_CHECKING:
    from semantic_kernel import Kernel
    from semantic_kernel.connectors.ai.function_call_choice_configuration import (
        FunctionCallChoiceConfiguration,
    )
    from semantic_kernel.connectors.ai.prompt_execution_settings import PromptExecutionSettings
    from semantic_kernel.filters.auto_function_invocation.auto_function_invocation_context import (
        AutoFunctionInvocationContext,
    )

    from host.config.schema import AgentConfig

AutoNext = Callable[["AutoFunctionInvocationContext"], Awaitable[None]]

NOT_ALLOWED = "`{name}` is not one of your tools ({allowed}); call one of those, or answer."
"""What the model is told instead of the result of a call outside its agent's functions."""


TRANSFER = "transfer_to_"
"""The name of a hand-off tool, before the agent's name."""


@dataclass
class Handoff:
    """A ``handoff`` team's turn: the agents it may transfer to, and the one it chose."""

    offered: tuple[str, ...]
    target: str | None = None
    usage: tuple[int, int] | None = None
    """The tokens (in, out) of the model request that made the transfer: the result of a
    turn a transfer ends carries none of its own."""


handoff: ContextVar[Handoff | None] = ContextVar("agent_host_handoff", default=None)
"""The hand-off of the turn running, in a ``handoff`` team."""


class AgentTools(NamedTools):
    """SK's automatic function choice offering exactly ``allowed`` (``plugin-function``),
    and the turn's :class:`Handoff` tools; nothing at all when both are empty.

    Its ``filters`` stay open so that SK hands a call of another function to the
    kernel's filters, where :class:`AgentToolGate` refuses and records it (and
    answers a transfer).
    """

    allowed: list[str]

    def offered(self) -> list[str]:
        """The functions offered now: the agent's, and its turn's transfers."""
        turn = handoff.get()
        transfers = [f"{INTERNAL_PLUGIN}-{TRANSFER}{name}" for name in turn.offered] if turn else []
        return [*self.allowed, *transfers]

    def configure(
        self,
        kernel: Kernel,
        update_settings_callback: Callable[..., None],
        settings: PromptExecutionSettings,
    ) -> None:
        """Offer :meth:`offered` to the model, unless that is nothing."""
        if self.offered():
            super().configure(kernel, update_settings_callback, settings)

    def get_config(self, kernel: Kernel) -> FunctionCallChoiceConfiguration:
        """The functions offered to the model: the agent's, never the host's own (but its
        transfers)."""
        config: FunctionCallChoiceConfiguration = self._check_and_get_config(
            kernel, {"included_functions": self.offered()}
        )
        return config


def agent_tools(agent: AgentConfig, allowed: Sequence[str]) -> AgentTools:
    """The function choice of ``agent``'s turns: ``allowed`` offered, at most
    ``max_tool_calls`` requests that call tools."""
    return AgentTools(
        type_=FunctionChoiceType.AUTO,
        allowed=list(allowed),
        maximum_auto_invoke_attempts=agent.max_tool_calls,
    )


TRANSFERRED = "Transferred to {name}."
"""A transfer's result, as the model and the transcript see it."""


def transfer_functions(agents: Mapping[str, AgentConfig]) -> list[Any]:
    """One ``transfer_to_<agent>`` kernel function per agent, offered to a handoff team's
    turns (:class:`AgentToolGate` answers a call of one)."""
    from semantic_kernel.functions import KernelFunctionFromMethod, kernel_function

    def transfer(name: str, description: str) -> Any:
        @kernel_function(name=f"{TRANSFER}{name}", description=f"Hand the task to {description}")
        def transfer_to() -> str:  # AgentToolGate makes the hand-off when it returns
            return TRANSFERRED.format(name=name)

        return KernelFunctionFromMethod(method=transfer_to, plugin_name=INTERNAL_PLUGIN)

    return [
        transfer(name, f"{name}: {agent.description}" if agent.description else name)
        for name, agent in agents.items()
    ]


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


async def _run_transfer(context: AutoFunctionInvocationContext) -> None:
    """A transfer function's call through the kernel's filters, its result the call's."""
    from semantic_kernel.functions import KernelArguments

    from host.kernel_call import call_function

    result = await call_function(context.kernel, context.function, KernelArguments())
    context.function_result = result


def _request_usage(context: AutoFunctionInvocationContext) -> tuple[int, int] | None:
    """The tokens (in, out) of the model request whose tool call ``context`` runs: the usage
    of the latest assistant message in its chat history."""
    from semantic_kernel.contents.utils.author_role import AuthorRole

    messages = context.chat_history.messages if context.chat_history is not None else []
    for message in reversed(messages):
        if message.role == AuthorRole.ASSISTANT:
            usage = message.metadata.get("usage")
            if usage is None:
                return None
            return int(usage.prompt_tokens or 0), int(usage.completion_tokens or 0)
    return None


class AgentToolGate:
    """An SK auto-function-invocation filter: in an agent's turn, a call outside its
    :class:`AgentTools` is answered with :data:`NOT_ALLOWED` and recorded, not run; a
    transfer offered to it names its :class:`Handoff`'s target and ends the turn."""

    async def __call__(self, context: AutoFunctionInvocationContext, next: AutoNext) -> None:
        settings = context.execution_settings
        tools = settings.function_choice_behavior if settings is not None else None
        function = context.function
        if not isinstance(tools, AgentTools) or function.fully_qualified_name in tools.allowed:
            await next(context)
            return
        turn = handoff.get()
        if turn is not None and function.fully_qualified_name in tools.offered():
            # run through the chain as any tool call is (its span, its attempt); the call
            # filter, which answers calls of the host's own functions, is not asked
            name = function.fully_qualified_name.replace("-", ".", 1)
            await answering(context, name, _run_transfer)
            turn.target = function.name.removeprefix(TRANSFER)  # a transfer ends the turn
            turn.usage = _request_usage(context)
            current.get().record(CallEvent("transfer", turn.target, "ok"))
            context.terminate = True
            return
        from semantic_kernel.functions import FunctionResult

        name = function.fully_qualified_name.replace("-", ".", 1)
        allowed = ", ".join(a.replace("-", ".", 1) for a in tools.offered()) or "none"
        answer = NOT_ALLOWED.format(name=name, allowed=allowed)
        current.get().record(
            CallEvent("rejected", name, "not_allowed", error_type="ToolNotAllowed", error=answer)
        )
        context.function_result = FunctionResult(function=function.metadata, value=answer)
