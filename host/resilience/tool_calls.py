"""Tool calls from a model are untrusted input: arguments are checked before the tool runs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from host.arguments import check_arguments, parameter_types
from host.catalogue import INTERNAL_PLUGIN, describe_function
from host.errors import InvalidArgumentsError
from host.resilience.journal import CallEvent, record

if TYPE_CHECKING:
    from semantic_kernel.filters.auto_function_invocation.auto_function_invocation_context import (
        AutoFunctionInvocationContext,
    )

AutoNext = Callable[["AutoFunctionInvocationContext"], Awaitable[None]]


class ToolCallArgumentsFilter:
    """An SK auto-function-invocation filter: bad arguments become a tool error for the model.

    SK converts a model's arguments loosely (``2.5`` for an ``int`` becomes 2);
    here the arguments the model wrote must fit the parameters exactly as a
    direct call's must (SK also passes the calling prompt's own arguments
    along, which are not checked). A misfit
    is answered to the model as the tool's result, so it can correct itself,
    and the tool does not run.
    """

    async def __call__(self, context: AutoFunctionInvocationContext, next: AutoNext) -> None:
        from semantic_kernel.functions import FunctionResult

        function = context.function
        info = describe_function(function, None)
        call = context.function_call_content
        given = dict(call.to_kernel_arguments()) if call is not None else {}
        try:
            if info.plugin == INTERNAL_PLUGIN:
                raise InvalidArgumentsError(info.name, ["internal to the host, not a tool"])
            values = check_arguments(info, given, parameter_types(function))
        except InvalidArgumentsError as error:
            record(CallEvent.failed("rejected", info.name, "invalid_arguments", error))
            message = f"Invalid arguments for {info.name}: {'; '.join(error.problems)}"
            context.function_result = FunctionResult(function=function.metadata, value=message)
            return
        if context.arguments is not None:
            context.arguments.update(values)
        await next(context)
