"""One step: a function call through the kernel and its filter chain, recorded as a StepRecord."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Coroutine, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from host.arguments import check_arguments
from host.catalogue import FunctionInfo
from host.clock import Clock
from host.errors import AgentHostError
from host.kernel_call import call_function
from host.progress import CallStarted, TellingJournal, listener, tell
from host.resilience.context import CallContext, Entered, current
from host.resilience.translation import translate
from host.state import CallEvent, RunState, StepRecord, StepStatus
from host.step_call import StepCall

if TYPE_CHECKING:
    from semantic_kernel import Kernel
    from semantic_kernel.functions import FunctionResult, KernelArguments, KernelFunction

    from host.models.selection import ModelChoice, ModelSelector
    from host.progress import Listener
    from host.telemetry.genai import Tracing


class Invoker:
    """Checks arguments, calls the kernel function (through the kernel's filters) and
    records what happened.

    A failed step raises its :class:`AgentHostError` with the failed
    :class:`StepRecord` (every attempt and hop included) as ``error.step``.
    """

    def __init__(self, kernel: Kernel, selector: ModelSelector, clock: Clock) -> None:
        from semantic_kernel.connectors.ai.prompt_execution_settings import (
            PromptExecutionSettings,
        )
        from semantic_kernel.exceptions import OperationCancelledException
        from semantic_kernel.functions import KernelArguments

        self._kernel = kernel
        self._selector = selector
        self._clock = clock
        self._settings = PromptExecutionSettings
        self._arguments = KernelArguments
        self._cancelled = OperationCancelledException
        self._functions: dict[str, KernelFunction] = {}
        """The kernel's functions by name, looked up once (the kernel's set is fixed)."""
        self.tracing: Tracing | None = None
        """The host's spans, when tracing is on (steps and planning open theirs)."""

    @property
    def kernel(self) -> Kernel:
        """The kernel every call goes through."""
        return self._kernel

    @property
    def selector(self) -> ModelSelector:
        """Which configured model serves each prompt call."""
        return self._selector

    def deadline_scope(self, seconds: float | None) -> contextlib.AbstractContextManager[object]:
        """Bound every call inside to ``seconds`` from now (an earlier outer bound wins).

        The executor opens one around a whole run, so its steps share one deadline.
        """
        if seconds is None:  # most runs: the outer bound, if any, stays as it is
            return _UNBOUNDED
        outer = current.get()
        bound = self._bound(outer.deadline, seconds)
        return _UNBOUNDED if bound is outer.deadline else Entered(outer.but(deadline=bound))

    def _bound(
        self, outer: tuple[float, float] | None, seconds: float | None
    ) -> tuple[float, float] | None:
        """``seconds`` from now as ``(clock time, seconds)``, unless ``outer`` ends sooner."""
        if seconds is None:
            return outer
        at = self._clock.now() + seconds
        return outer if outer is not None and outer[0] <= at else (at, seconds)

    def invoke(
        self,
        info: FunctionInfo,
        arguments: Mapping[str, Any],
        *,
        step_id: str,
        model: str | None = None,
        fallbacks: tuple[str, ...] = (),
        deadline: float | None = None,
        route_reason: str | None = None,
        state: RunState | None = None,
    ) -> Coroutine[Any, Any, StepRecord]:
        """Run ``info``'s function within ``deadline`` seconds, if given: :meth:`call` of
        those fields as a :class:`~host.step_call.StepCall`."""
        call = StepCall(
            step_id, info.name, dict(arguments), model, fallbacks, route_reason, None, deadline
        )
        return self.call(info, call, state)

    def call(
        self, info: FunctionInfo, call: StepCall, state: RunState | None = None
    ) -> Coroutine[Any, Any, StepRecord]:
        """Run ``call`` of ``info``'s function within its ``deadline`` seconds, if given.

        ``call.model`` must name a configured model (else :class:`~host.errors.ConfigError`);
        its ``fallbacks`` are a routed step's other capable models, tried after the
        policy's own fallbacks; its ``route_reason``, why a router chose the step's model,
        replaces the selector's on a successful call's record. The call starts a fresh
        :class:`~host.resilience.context.CallContext` that keeps the run's deadline.
        ``state``, if given, keeps the record: a success's with its output
        (:meth:`~host.state.RunState.succeed`), a failure's (but a hand-off's) under
        the step's id, as :meth:`~host.steps.StepRunner.run` does.

        Await it as an ``async def``'s call. The arguments are checked, and the step's
        time starts, when it is called (bad arguments raise then); the coroutine it
        returns holds only what the call needs while it waits.
        """
        model = call.model
        settings = [self._settings(service_id=self._selector.configured(model))] if model else None
        function = self._functions.get(info.name) or self._function(info)
        values = check_arguments(info, call.arguments)
        kernel_arguments = self._arguments(settings)
        kernel_arguments.update(values)  # cheaper than unpacking ``values`` as keywords
        is_prompt = info.kind == "prompt"
        choice = self._selector.model_for(function, kernel_arguments) if is_prompt else None
        bound = self._bound(current.get().deadline, call.deadline)
        watcher = listener()
        step = _Step(call, info, values, bound, choice, state)
        if watcher is not None:
            step.watched(watcher, model or (choice.name if choice else None))
        step.start = self._clock.now()
        return self._call(step, function, kernel_arguments)

    async def _call(
        self, step: _Step, function: KernelFunction, kernel_arguments: KernelArguments
    ) -> StepRecord:
        """:meth:`invoke`'s call of ``function``, recorded as ``step``."""
        token = current.set(step.call)
        try:
            result = await call_function(self._kernel, function, kernel_arguments)
        except self._cancelled:  # as ``kernel.invoke``: a cancelled operation has no result
            result = None
        except Exception as raised:  # every failure leaves as the host's error
            raise self._failed(step, raised) from raised
        finally:
            current.reset(token)
        record = self._succeeded(step, result)
        if step.state is not None:
            step.state.succeed(record)
        return record

    def _function(self, info: FunctionInfo) -> KernelFunction:
        """``info``'s kernel function, remembered for the next call."""
        function = self._kernel.get_function(info.plugin, info.function)
        self._functions[info.name] = function
        return function

    def _failed(self, step: _Step, raised: Exception) -> AgentHostError:
        """``raised`` as the host's error, its failed record set (and kept in the state)."""
        choice = step.choice
        error = translate(raised, step.info.name, model=choice.name if choice else None)
        error.step = step.failed(error, self._latency_ms(step))
        if step.state is not None:
            step.state.fail(error)
        return error

    def _latency_ms(self, step: _Step) -> float:
        return (self._clock.now() - step.start) * 1000

    def _succeeded(self, step: _Step, result: FunctionResult | None) -> StepRecord:
        latency_ms, events = self._latency_ms(step), step.journal
        choice, route_reason = step.choice, step.route_reason
        if route_reason is None and choice is not None:
            route_reason = choice.reason
        messages = _messages(result)
        if not messages and choice is None:  # a native function's answer: nothing to price
            output = _output(result, messages)
            return step.record("ok", latency_ms, output=output, route_reason=route_reason)
        usage = _usage(messages)
        served = _served_model(events, choice)
        provider = cost = None
        if served is not None:
            row = self._selector.services.config(served)
            provider = row.provider
            if usage is not None:
                cost = row.cost.of(*usage)
        return step.record(
            "ok",
            latency_ms,
            output=_output(result, messages),
            model=served,
            provider=provider,
            model_id=_model_id(messages),
            route_reason=route_reason,
            tokens_in=usage[0] if usage else None,
            tokens_out=usage[1] if usage else None,
            cost=cost,
            confidence=_confidence(messages),
        )


_UNBOUNDED = contextlib.nullcontext()


class _Step:
    """One call of a step: what is known before it runs, and what its record needs after."""

    __slots__ = (
        "call",
        "choice",
        "info",
        "journal",
        "route_reason",
        "start",
        "started_at",
        "state",
        "step_id",
        "values",
    )

    def __init__(
        self,
        call: StepCall,
        info: FunctionInfo,
        values: dict[str, Any],
        deadline: tuple[float, float] | None,
        choice: ModelChoice | None,
        state: RunState | None,
    ) -> None:
        self.step_id, self.info, self.values = call.step_id, info, values
        self.journal: list[CallEvent] = []
        self.call = CallContext.of_step(call.fallbacks, deadline, self.journal)
        """The call's context: it starts the chain afresh, keeping the run's deadline."""
        self.started_at = datetime.now(UTC)
        self.start = 0.0
        """Clock time the call started (set by the invoker)."""
        self.choice, self.route_reason, self.state = choice, call.route_reason, state

    def watched(self, watcher: Listener, model: str | None) -> None:
        """Tell ``watcher`` the call begins on ``model``, and each event as it is journaled."""
        self.journal = TellingJournal(watcher, self.step_id)
        self.call = self.call._replace(journal=self.journal)
        reason = self.route_reason or (self.choice.reason if self.choice else None)
        tell(watcher, CallStarted(self.step_id, self.info.name, model, reason))

    def record(self, status: StepStatus, latency_ms: float, **fields: Any) -> StepRecord:
        """The step's record: ``fields`` (output, error, model, cost...) and what its
        journal tells (attempts, cache hit, degraded)."""
        name, events = self.info.name, self.journal
        own = modelled = 0
        cache_hit = degraded = False
        for e in events:
            if e.kind == "attempt":
                own += e.target == name
                modelled += bool(e.model)
            elif e.kind == "cache_hit":
                cache_hit = True
            elif e.kind == "stale_served" or _static_fallback(e):
                degraded = True
        return StepRecord(  # the first fields by position: a quarter cheaper than by name
            self.step_id,
            name,
            self.values,
            status,
            self.started_at,
            latency_ms,
            attempts=own or modelled,
            cache_hit=cache_hit,
            degraded=degraded,
            events=tuple(events),
            **fields,
        )

    def failed(self, error: AgentHostError, latency_ms: float) -> StepRecord:
        choice = self.choice
        return self.record(
            "failed",
            latency_ms,
            error=str(error),
            error_type=type(error).__name__,
            model=choice.name if choice else None,
            route_reason=choice.reason if choice else None,
        )


def _static_fallback(event: CallEvent) -> bool:
    return event.kind == "fallback" and event.outcome == "ok" and event.target.startswith("value:")


def _served_model(events: list[CallEvent], choice: ModelChoice | None) -> str | None:
    """The model whose attempt produced the answer (a fallback model after a hop)."""
    if choice is None:
        return None
    answered = [e.model for e in events if e.kind == "attempt" and e.model and e.outcome == "ok"]
    return answered[-1] if answered else choice.name


def _messages(result: FunctionResult | None) -> list[Any]:
    """The chat messages in a result (a prompt function's answer); none for a native one."""
    value = result.value if result is not None else None
    if value is None or isinstance(value, (str, int, float, bool, dict)):
        return []
    from semantic_kernel.contents import ChatMessageContent

    items = value if isinstance(value, list) else [value]
    return [item for item in items if isinstance(item, ChatMessageContent)]


def _output(result: FunctionResult | None, messages: list[Any]) -> Any:
    if result is None:
        return None
    if messages:
        return "".join(str(message) for message in messages)
    return result.value


def _usage(messages: list[Any]) -> tuple[int, int] | None:
    for message in messages:
        usage = message.metadata.get("usage")
        if usage is not None:
            return int(usage.prompt_tokens or 0), int(usage.completion_tokens or 0)
    return None


def _confidence(messages: list[Any]) -> float | None:
    """exp(mean token log probability) of the reply, when the provider returned logprobs."""
    for message in messages:
        logprobs = message.metadata.get("logprobs")
        tokens = getattr(logprobs, "content", None) or []
        values = [float(token.logprob) for token in tokens]
        if values:
            return math.exp(sum(values) / len(values))
    return None


def _model_id(messages: list[Any]) -> str | None:
    return next((m.ai_model_id for m in messages if m.ai_model_id), None)
