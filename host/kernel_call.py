"""A kernel function's call through the kernel's function-invocation filters.

``KernelFunction.invoke`` wraps the same filter stack in Semantic Kernel's own
``execute_tool`` span, log lines and duration histogram, and validates a fresh
invocation context every call. The host records each call itself (its step
record, spans and metrics), so it makes the call without that wrapper: every
filter added to the kernel, the host's resilience chain and an application's
own, still runs in order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from semantic_kernel.filters.filter_types import FilterTypes
from semantic_kernel.filters.functions.function_invocation_context import (
    FunctionInvocationContext,
)
from semantic_kernel.filters.kernel_filters_extension import _rebuild_function_invocation_context

if TYPE_CHECKING:
    from semantic_kernel import Kernel
    from semantic_kernel.functions import FunctionResult, KernelArguments, KernelFunction

_rebuild_function_invocation_context()  # resolves its forward references once, not per call
_FILTERS = FilterTypes.FUNCTION_INVOCATION
_new, _set = object.__new__, object.__setattr__


def invocation_context(
    kernel: Kernel, function: KernelFunction, arguments: KernelArguments
) -> FunctionInvocationContext:
    """What ``FunctionInvocationContext.model_construct`` makes of these fields (an
    unvalidated model; assigning its result still validates), at a sixth of its cost."""
    context = _new(FunctionInvocationContext)
    fields = {
        "function": function,
        "kernel": kernel,
        "arguments": arguments,
        "is_streaming": False,
        "result": None,
    }
    _set(context, "__dict__", fields)
    _set(context, "__pydantic_fields_set__", {"function", "kernel", "arguments", "is_streaming"})
    _set(context, "__pydantic_extra__", None)
    _set(context, "__pydantic_private__", None)
    return context


async def call_function(
    kernel: Kernel, function: KernelFunction, arguments: KernelArguments
) -> FunctionResult | None:
    """``function``'s result for ``arguments``, called through ``kernel``'s filters."""
    context = invocation_context(kernel, function, arguments)
    stack = kernel.construct_call_stack(_FILTERS, function._invoke_internal)
    await stack(context)
    return context.result
