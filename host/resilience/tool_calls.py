"""Tool calls from a model are untrusted input: the host's own functions are never tools,
and arguments are checked before the tool runs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from semantic_kernel.connectors.ai.function_choice_behavior import FunctionChoiceBehavior

from host.arguments import check_arguments
from host.catalogue import INTERNAL_PLUGIN, describe_function
from host.errors import InvalidArgumentsError
from host.resilience.context import current, tool_call
from host.state import CallEvent

if TYPE_CHECKING:
    from semantic_kernel.filters.auto_function_invocation.auto_function_invocation_context import (
        AutoFunctionInvocationContext,
    )
    from semantic_kernel.filters.prompts.prompt_render_context import PromptRenderContext

AutoNext = Callable[["AutoFunctionInvocationContext"], Awaitable[None]]
RenderNext = Callable[["PromptRenderContext"], Awaitable[None]]

NOT_A_TOOL = (
    "The tool call with name `{name}` is not part of the provided tools, "
    "please try again with a supplied tool call name and make sure to validate the name."
)
"""SK's answer to a call of a function it did not offer; the host's own functions get it too."""


class NamedTools(FunctionChoiceBehavior):
    """A function choice that offers exactly the functions it names, the host's own among
    them only when it names them: :class:`ToolOfferFilter` leaves it as it is."""


class ToolOfferFilter:
    """An SK prompt-rendering filter: a prompt function never offers the host's own functions.

    It runs just before SK picks the call's service and settings, and narrows
    every function choice behaviour the call could use (its own and the call's)
    to leave out :data:`~host.catalogue.INTERNAL_PLUGIN`. SK then neither lists
    those functions to the model nor runs a call to one.
    """

    async def __call__(self, context: PromptRenderContext, next: RenderNext) -> None:
        own = getattr(context.function, "prompt_execution_settings", None) or {}
        given = context.arguments.execution_settings or {}
        for settings in (*own.values(), *given.values()):
            behavior = settings.function_choice_behavior
            if behavior is not None and not isinstance(behavior, NamedTools):
                _withhold_internal(behavior)
        await next(context)


def _withhold_internal(behavior: FunctionChoiceBehavior) -> None:
    """Leave the internal plugin out of ``behavior``'s filters (a no-op once done)."""
    filters = behavior.filters or {}
    included = filters.get("included_plugins")
    if included:
        kept = [plugin for plugin in included if plugin != INTERNAL_PLUGIN]
        if len(kept) < len(included):
            if not kept:
                behavior.enable_kernel_functions = False
            behavior.filters = {**filters, "included_plugins": kept}
        return
    excluded = filters.get("excluded_plugins") or []
    if INTERNAL_PLUGIN not in excluded:
        behavior.filters = {**filters, "excluded_plugins": [*excluded, INTERNAL_PLUGIN]}


class ToolCallArgumentsFilter:
    """An SK auto-function-invocation filter: bad arguments become a tool error for the model.

    SK converts a model's arguments loosely (``2.5`` for an ``int`` becomes 2);
    here the arguments the model wrote must fit the parameters exactly as a
    direct call's must (SK also passes the calling prompt's own arguments
    along, which are not checked). A misfit
    is answered to the model as the tool's result, so it can correct itself,
    and the tool does not run. A call of one of the host's own functions (which
    a chat call made outside a prompt function may not have filtered) is answered
    as SK answers a call of a function it did not offer.
    """

    async def __call__(self, context: AutoFunctionInvocationContext, next: AutoNext) -> None:
        from semantic_kernel.functions import FunctionResult

        function = context.function
        call = context.function_call_content
        if function.plugin_name == INTERNAL_PLUGIN:
            name = call.name if call is not None else function.fully_qualified_name
            answer = NOT_A_TOOL.format(name=name)
            context.function_result = FunctionResult(function=function.metadata, value=answer)
            return
        info = describe_function(function, None)
        given = dict(call.to_kernel_arguments()) if call is not None else {}
        try:
            values = check_arguments(info, given)
        except InvalidArgumentsError as error:
            current.get().record(
                CallEvent.failed("rejected", info.name, "invalid_arguments", error)
            )
            message = f"Invalid arguments for {info.name}: {'; '.join(error.problems)}"
            context.function_result = FunctionResult(function=function.metadata, value=message)
            return
        if context.arguments is not None:
            context.arguments.update(values)
        await answering(context, info.name, next)


async def answering(context: AutoFunctionInvocationContext, name: str, run: AutoNext) -> None:
    """``run(context)``, as the model's call of ``name`` (the tool call in ``context``):
    the span of its attempt names the call's id."""
    call = context.function_call_content
    if call is None or not call.id:
        await run(context)
        return
    token = tool_call.set((name, call.id))
    try:
        await run(context)
    finally:
        tool_call.reset(token)
