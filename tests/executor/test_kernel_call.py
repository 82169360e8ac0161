"""The host calls each function through every filter on its kernel, an application's too,
with the invocation context pydantic would construct."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from pydantic import ValidationError
from semantic_kernel import Kernel
from semantic_kernel.filters.filter_types import FilterTypes
from semantic_kernel.filters.functions.function_invocation_context import (
    FunctionInvocationContext,
)
from semantic_kernel.functions import (
    FunctionResult,
    KernelArguments,
    KernelFunctionFromMethod,
    kernel_function,
)

from host import AgentHost
from host.kernel_call import invocation_context
from host.testing import Reply, ScriptedChatCompletion
from tests.executor.echo_kit import write_echo_config

Next = Callable[[FunctionInvocationContext], Awaitable[None]]
PLAN = {
    "steps": [
        {
            "id": "day",
            "function": "clock.today",
            "arguments": {"timezone": "UTC"},
            "capability": "fetch",
        },
        {
            "id": "say",
            "function": "talk.Echo",
            "arguments": {"input": {"$ref": "steps.day.output"}},
            "capability": "write",
        },
    ]
}


async def test_an_application_filter_wraps_every_step_and_may_change_its_result(
    tmp_path: Path,
) -> None:
    seen: list[tuple[str, bool]] = []

    async def marking(context: FunctionInvocationContext, next: Next) -> None:
        await next(context)
        assert context.result is not None
        seen.append((context.function.fully_qualified_name, context.is_streaming))
        if context.function.plugin_name == "clock":
            marked = f"{context.result.value}!"
            context.result = FunctionResult(function=context.function.metadata, value=marked)

    model = ScriptedChatCompletion("local", default=Reply("it is today", usage=(5, 3)))
    async with AgentHost(write_echo_config(tmp_path), models={"local": model}) as host:
        host.kernel.add_filter(FilterTypes.FUNCTION_INVOCATION, marking)
        result = await host.execute(PLAN)
    assert result.status == "ok", result.error
    assert seen == [("clock-today", False), ("talk-Echo", False)]
    day, say = result.steps
    assert str(day.output).endswith("!") and str(day.output)[:2] == "20"
    assert say.arguments == {"input": day.output}
    assert (say.model, say.tokens_in, say.output) == ("local", 5, "it is today")


def test_the_invocation_context_is_what_pydantic_would_construct() -> None:
    kernel = Kernel()
    function = KernelFunctionFromMethod(kernel_function(lambda: "x", name="x"), plugin_name="p")
    arguments = KernelArguments(a=1)
    made = invocation_context(kernel, function, arguments)
    constructed = FunctionInvocationContext.model_construct(
        function=function, kernel=kernel, arguments=arguments, is_streaming=False
    )
    for name in (
        "__dict__",
        "__pydantic_fields_set__",
        "__pydantic_extra__",
        "__pydantic_private__",
    ):
        assert getattr(made, name) == getattr(constructed, name), name
    made.result = FunctionResult(function=function.metadata, value="x")  # still validated
    assert made.result.value == "x" and "result" in made.model_fields_set
    with pytest.raises(ValidationError):
        made.result = "not a result"  # type: ignore[assignment]
