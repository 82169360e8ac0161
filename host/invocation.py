"""One function call through the kernel, measured and recorded as a :class:`StepRecord`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from host.arguments import check_arguments
from host.catalogue import FunctionInfo
from host.clock import Clock
from host.errors import AgentHostError, FunctionFailedError, ProviderError, describe_error
from host.state import StepRecord

if TYPE_CHECKING:
    from semantic_kernel import Kernel
    from semantic_kernel.functions import FunctionResult, KernelFunction

    from host.models.selection import ModelChoice, ModelSelector


class Invoker:
    """Checks arguments, calls ``kernel.invoke`` and records what happened."""

    def __init__(self, kernel: Kernel, selector: ModelSelector, clock: Clock) -> None:
        self._kernel = kernel
        self._selector = selector
        self._clock = clock

    async def invoke(
        self,
        info: FunctionInfo,
        arguments: Mapping[str, Any],
        *,
        step_id: str,
        model: str | None = None,
    ) -> StepRecord:
        """Run ``info``'s function; raise an :class:`AgentHostError` if it fails."""
        from semantic_kernel.connectors.ai.prompt_execution_settings import (
            PromptExecutionSettings,
        )
        from semantic_kernel.functions import KernelArguments

        function = self._kernel.get_function(info.plugin, info.function)
        values = check_arguments(info, arguments, _parameter_types(function))
        settings = [PromptExecutionSettings(service_id=model)] if model else None
        kernel_arguments = KernelArguments(settings=settings, **values)
        is_prompt = info.kind == "prompt"
        choice = self._selector.model_for(function, kernel_arguments) if is_prompt else None
        started_at = datetime.now(UTC)
        start = self._clock.now()
        try:
            result = await self._kernel.invoke(function, kernel_arguments)
        except Exception as error:  # translated into the host's error tree
            raise _translate(error, info.name, choice.name if choice else None) from error
        latency_ms = (self._clock.now() - start) * 1000
        return self._record(info, values, step_id, started_at, latency_ms, result, choice)

    def _record(
        self,
        info: FunctionInfo,
        values: dict[str, Any],
        step_id: str,
        started_at: datetime,
        latency_ms: float,
        result: FunctionResult | None,
        choice: ModelChoice | None,
    ) -> StepRecord:
        usage = _usage(result)
        provider = cost = None
        if choice is not None:
            row = self._selector.services.config(choice.name)
            provider = row.provider
            if usage is not None:
                cost = (usage[0] * row.cost.input + usage[1] * row.cost.output) / 1000
        return StepRecord(
            step_id=step_id,
            function=info.name,
            arguments=values,
            status="ok",
            started_at=started_at,
            latency_ms=latency_ms,
            output=_output(result),
            model=choice.name if choice else None,
            provider=provider,
            model_id=_model_id(result),
            route_reason=choice.reason if choice else None,
            tokens_in=usage[0] if usage else None,
            tokens_out=usage[1] if usage else None,
            cost=cost,
        )


def _parameter_types(function: KernelFunction) -> dict[str, Any]:
    return {str(p.name): p.type_object for p in function.metadata.parameters if p.type_object}


def _messages(result: FunctionResult | None) -> list[Any]:
    from semantic_kernel.contents import ChatMessageContent

    value = result.value if result is not None else None
    items = value if isinstance(value, list) else [value]
    return [item for item in items if isinstance(item, ChatMessageContent)]


def _output(result: FunctionResult | None) -> Any:
    if result is None:
        return None
    messages = _messages(result)
    if messages:
        return "".join(str(message) for message in messages)
    return result.value


def _usage(result: FunctionResult | None) -> tuple[int, int] | None:
    for message in _messages(result):
        usage = message.metadata.get("usage")
        if usage is not None:
            return int(usage.prompt_tokens or 0), int(usage.completion_tokens or 0)
    return None


def _model_id(result: FunctionResult | None) -> str | None:
    return next((m.ai_model_id for m in _messages(result) if m.ai_model_id), None)


def _translate(error: BaseException, function: str, model: str | None) -> AgentHostError:
    """The host's error for ``error``: its own if it carries one, else a translation."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, AgentHostError):
            return cause
        if model is not None and _is_provider_error(cause):
            return ProviderError(model, describe_error(cause), retryable=_is_retryable(cause))
        if cause.__cause__ is None:
            break
        cause = cause.__cause__
    root = cause or error
    return FunctionFailedError(function, describe_error(root))


def _is_provider_error(error: BaseException) -> bool:
    import openai

    return isinstance(error, openai.OpenAIError)


def _is_retryable(error: BaseException) -> bool:
    import openai

    if isinstance(error, openai.APIStatusError):
        return error.status_code in (408, 409, 429) or error.status_code >= 500
    return isinstance(error, openai.APIConnectionError)
