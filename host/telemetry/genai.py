"""The host's spans and metrics, in the OpenTelemetry GenAI semantic conventions.

Conventions version 1.44 (GenAI: "development"). One trace per run::

    invoke_workflow {name}            the run (a planned run's name is ``plan``; a team's, its own)
      plan {planner}                  planning, its model calls beneath
      step {step_id}                  one per step (``agent_host.*`` from its record)
      invoke_agent {agent}            one per agent turn of a team, as a step's span
        chat {model}                  one per model attempt and fallback hop (CLIENT)
        execute_tool {plugin.function}  one per native attempt

Retries, fallback hops, breaker transitions, cache serves and validation are
events of the step's span. Content (prompts, replies, tool arguments and
results) is recorded only when ``capture_content`` is on; secrets are masked
by the exporter (:mod:`host.telemetry`), whatever is recorded.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from operator import attrgetter
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol
from urllib.parse import urlsplit

from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from host.state import spent
from host.telemetry.current import current_span, enter, leave

if TYPE_CHECKING:
    from opentelemetry.trace import Span
    from opentelemetry.util.types import AnyValue
    from semantic_kernel.filters.functions.function_invocation_context import (
        FunctionInvocationContext,
    )

    from host.config.schema import ModelConfig
    from host.resilience.guard import Target
    from host.state import CallEvent, RunResult, StepRecord
    from host.telemetry.metrics import Instruments

_log = logging.getLogger("agent_host")

PROVIDERS = {
    "openai": "openai",
    "azure_openai": "azure.ai.openai",
    "anthropic": "anthropic",
    "local": "llama.cpp",
    "scripted": "agent_host.scripted",
}
"""``gen_ai.provider.name`` of each configured provider."""


def keep_kernel_diagnostics_off() -> None:
    """Switch Semantic Kernel's own GenAI diagnostics off (its
    ``SEMANTICKERNEL_EXPERIMENTAL_GENAI_ENABLE_OTEL_DIAGNOSTICS*`` settings): with them on,
    a model call would be two ``chat`` spans, SK's (older attribute names) under the
    host's, and SK would record content whatever ``capture_content`` says."""
    from semantic_kernel.utils.telemetry.model_diagnostics import decorators, function_tracer

    for settings in (
        decorators.MODEL_DIAGNOSTICS_SETTINGS,
        function_tracer.MODEL_DIAGNOSTICS_SETTINGS,
    ):
        if settings.enable_otel_diagnostics or settings.enable_otel_diagnostics_sensitive:
            _log.info("Semantic Kernel's GenAI diagnostics are off: the host traces model calls")
        settings.enable_otel_diagnostics = False
        settings.enable_otel_diagnostics_sensitive = False


class SpanStarter(Protocol):
    """What :class:`Tracing` starts spans with: an OpenTelemetry ``Tracer``, or a
    :class:`~host.telemetry.span_recorder.SpanRecorder` for an SDK provider."""

    def start_span(
        self,
        name: str,
        *,
        kind: SpanKind = ...,
        attributes: Mapping[str, AnyValue] | None = ...,
    ) -> Span: ...


class Resumption(NamedTuple):
    """What the trace of a resumed run tells of the paused run it continues."""

    span: str | None
    """``<trace id>-<span id>`` of the paused run's span, if it was traced: linked to."""
    carried: frozenset[str]
    """The ids of the steps recorded before the pause: their tokens and cost are the
    paused run's trace's, not counted again in the resumed run's."""
    step_id: str
    """The step the person answered: a span of its own in the resumed run."""
    function: str | None
    answer: Any
    """The person's answer, recorded only when content is captured."""


_resumed: ContextVar[Resumption | None] = ContextVar("agent_host_resumed", default=None)
"""The paused run being resumed here."""


def current_span_id() -> str | None:
    """``<trace id>-<span id>`` of the current span (a run's, when a run pauses); ``None``
    when nothing is traced."""
    context = current_span().get_span_context()
    return f"{context.trace_id:032x}-{context.span_id:016x}" if context.is_valid else None


@contextmanager
def resuming(resumption: Resumption) -> Iterator[None]:
    """Inside the block, a run's span is the resumption of a paused run: linked to its
    span, with a span for the answered step, counting only its own steps' usage."""
    token = _resumed.set(resumption)
    try:
        yield
    finally:
        _resumed.reset(token)


_in_run: ContextVar[bool] = ContextVar("agent_host_in_run", default=False)
"""Whether a run's span is open in this context (a planned run's execution opens none)."""


class Tracing:
    """Makes the host's spans on ``tracer`` and records its ``instruments``, if given.

    ``models`` gives a configured model's row (provider, address) by name.
    """

    def __init__(
        self,
        tracer: SpanStarter,
        instruments: Instruments | None = None,
        *,
        models: Mapping[str, ModelConfig] | None = None,
        capture_content: bool = False,
    ) -> None:
        self._tracer = tracer
        self._models = models or {}
        self.capture_content = capture_content
        self._instruments = instruments
        self._tools: dict[str, str] = {}
        """Each native function's span name, by its name (the kernel's set is fixed)."""

    async def traced_run(
        self, name: str, request: str | None, run: Awaitable[RunResult]
    ) -> RunResult:
        """``run`` awaited inside its run's span (unless one is open already), which its
        result fills in; the result gets the trace's id."""
        if _in_run.get():
            return await run
        with self.run(name, request) as span:
            result = await run
            self.ended_run(span, result)
        return result

    def run(self, name: str, request: str | None = None) -> _Current:
        """``with tracing.run(...) as span:`` the span of a whole run, current inside the
        block (ended after it); the runs it contains (a planned run's execution) open no
        span of their own."""
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "invoke_workflow",
            "gen_ai.workflow.name": name,
            "openinference.span.kind": "CHAIN",
        }
        if request is not None and self.capture_content:
            attributes["agent_host.run.request"] = attributes["input.value"] = request
        span = self._tracer.start_span(f"invoke_workflow {name}", attributes=attributes)
        resumed = _resumed.get()
        if resumed is None:
            return _RunScope(span)
        span.set_attribute("agent_host.resumed", True)
        if resumed.span is not None:
            trace_id, span_id = (int(part, 16) for part in resumed.span.split("-"))
            span.add_link(SpanContext(trace_id, span_id, True, TraceFlags(TraceFlags.SAMPLED)))
        return _RunScope(span, lambda: self._answered_step(resumed))

    def _answered_step(self, resumed: Resumption) -> None:
        """The span of the step a person answered, inside the resumed run's span."""
        attributes: dict[str, Any] = {
            "agent_host.step.id": resumed.step_id,
            "agent_host.handoff.answered": True,
            "openinference.span.kind": "CHAIN",
        }
        if resumed.function is not None:
            attributes["agent_host.function"] = resumed.function
        if self.capture_content:
            attributes["agent_host.handoff.answer"] = _text(resumed.answer)
        self._tracer.start_span(f"step {resumed.step_id}", attributes=attributes).end()

    @staticmethod
    def mark(result: RunResult) -> None:
        """Give ``result`` the id of the trace its run is in (the current span's), if any."""
        trace_id = _exported_trace(current_span())
        if trace_id is not None:
            result.trace_id = trace_id

    def ended_run(self, span: Span, result: RunResult) -> None:
        """Tell ``span`` how its run ended, and ``result`` which trace it is in (none when
        the sampler left the trace out)."""
        result.trace_id = _exported_trace(span)
        if self.capture_content and result.output is not None:
            span.set_attribute("output.value", _text(result.output))
        records = (*result.planning, *result.steps)
        resumed = _resumed.get()
        if resumed is not None:  # what ran before the pause is counted in the paused trace
            records = tuple(r for r in records if r.step_id not in resumed.carried)
        cost, tokens_in, tokens_out = _spent(records)
        span.set_attributes(
            {
                "agent_host.run.id": result.run_id,
                "gen_ai.conversation.id": result.run_id,  # groups a paused run and its resume
                "agent_host.run.status": result.status,
                "agent_host.run.steps": len(result.steps),
                "agent_host.degraded": result.degraded,
                "agent_host.cost": cost or 0.0,
                "gen_ai.usage.input_tokens": tokens_in or 0,
                "gen_ai.usage.output_tokens": tokens_out or 0,
            }
        )
        if result.plan is not None:
            span.set_attribute("agent_host.plan", result.plan)
        if result.question is not None:
            span.set_attribute("agent_host.handoff.question", result.question)
        if result.status == "failed":
            failed = next((s for s in result.steps if s.status == "failed"), None)
            error_type = failed.error_type if failed and failed.error_type else "run_failed"
            span.set_attribute("error.type", error_type)
            span.set_status(Status(StatusCode.ERROR, result.error))

    def planning(self, planner: str) -> _Current:
        """``with tracing.planning(...) as span:`` the span of a planner's work."""
        attributes = {"agent_host.planner": planner, "openinference.span.kind": "CHAIN"}
        return _Current(self._tracer.start_span(f"plan {planner}", attributes=attributes))

    def step(
        self,
        step_id: str,
        function: str,
        capability: str | None,
        *,
        compensation: bool = False,
        agent: str | None = None,
    ) -> _Current:
        """``with tracing.step(...) as span:`` the span of one step (or of a completed
        step's ``compensation``), which :meth:`ended_step` fills in (its record tells how
        it failed). An ``agent``'s turn is the span ``invoke_agent {agent}``."""
        attributes: dict[str, Any] = {
            "agent_host.step.id": step_id,
            "agent_host.function": function,
            "openinference.span.kind": "CHAIN",
        }
        if capability:
            attributes["agent_host.capability"] = capability
        if compensation:
            attributes["agent_host.compensation"] = True
        name = f"step {step_id}"
        if agent is not None:
            name = f"invoke_agent {agent}"
            attributes["gen_ai.operation.name"] = "invoke_agent"
            attributes["gen_ai.agent.name"] = agent
            attributes["openinference.span.kind"] = "AGENT"
        span = self._tracer.start_span(name, attributes=attributes)
        return _Current(span, marks_errors=False)

    def ended_step(
        self, span: Span, record: StepRecord | None, error: BaseException | None
    ) -> None:
        """Fill in a step's span from its ``record`` (and ``error``, if it failed)."""
        if record is not None:
            span.set_attributes(_record_attributes(record))
            if self.capture_content:
                span.set_attribute("input.value", _json(record.arguments))
                if record.output is not None:
                    span.set_attribute("output.value", _text(record.output))
            for event in record.events:
                if event.kind != "attempt" or (event.attempt or 1) > 1:
                    span.add_event(_event_name(event), _event_attributes(event))
            if self._instruments is not None:
                _measure_step(self._instruments, record)
        if error is not None:
            _failed(span, error)

    def attempt(
        self,
        context: FunctionInvocationContext,
        target: Target,
        attempt: int,
        hop: bool,
        tool_call_id: str | None = None,
    ) -> _Current:
        """``with tracing.attempt(...):`` the span of one attempt at ``target``: a model
        call or a native function's run (``tool_call_id``: the model's call it answers),
        filled in from the reply when it returns."""
        if target.model is not None:
            row = self._models.get(target.model)
            model_id = row.model if row is not None else target.model
            name, kind = f"chat {model_id}", SpanKind.CLIENT
            attributes = _chat_attributes(context, target.model, row)
        elif tool_call_id is None and not self.capture_content:  # the common native call
            tool = target.name
            name, kind = self._tools.get(tool) or self._tool_name(tool), SpanKind.INTERNAL
            attributes = {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": tool,
                "gen_ai.tool.type": "function",
                "agent_host.attempt": attempt,
                "agent_host.fallback.hop": hop,
            }
            span = self._tracer.start_span(name, kind=kind, attributes=attributes)
            return _AttemptScope(span, self, context, target, attributes)
        else:
            tool = target.name
            name, kind = f"execute_tool {tool}", SpanKind.INTERNAL
            attributes = {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": tool,
                "gen_ai.tool.type": "function",
            }
            if tool_call_id is not None:
                attributes["gen_ai.tool.call.id"] = tool_call_id
            if self.capture_content:
                attributes["gen_ai.tool.call.arguments"] = _json(dict(context.arguments))
        attributes["agent_host.attempt"] = attempt
        attributes["agent_host.fallback.hop"] = hop
        span = self._tracer.start_span(name, kind=kind, attributes=attributes)
        return _AttemptScope(span, self, context, target, attributes)

    def _tool_name(self, tool: str) -> str:
        """``execute_tool {tool}``, kept for the tool's next calls."""
        name = self._tools[tool] = f"execute_tool {tool}"
        return name

    def _answered(
        self,
        span: Span,
        context: FunctionInvocationContext,
        target: Target,
        request: Mapping[str, Any],
    ) -> None:
        """Fill in an attempt's span from the reply in ``context``."""
        if target.model is None:
            if self.capture_content:
                value = context.result.value if context.result is not None else None
                span.set_attribute("gen_ai.tool.call.result", _json(value))
            return
        value = context.result.value if context.result is not None else None
        messages = value if isinstance(value, list) else [value]
        usage = model_id = None
        reasons: list[str] = []
        for message in messages:
            metadata = getattr(message, "metadata", None) or {}
            usage = usage or metadata.get("usage")
            model_id = model_id or getattr(message, "ai_model_id", None)
            reason = getattr(message, "finish_reason", None)
            if reason is not None:
                reasons.append(str(getattr(reason, "value", reason)))
        if model_id:
            span.set_attribute("gen_ai.response.model", model_id)
        if reasons:
            span.set_attribute("gen_ai.response.finish_reasons", reasons)
        if usage is not None:
            tokens = (int(usage.prompt_tokens or 0), int(usage.completion_tokens or 0))
            span.set_attribute("gen_ai.usage.input_tokens", tokens[0])
            span.set_attribute("gen_ai.usage.output_tokens", tokens[1])
            cached = getattr(getattr(usage, "prompt_tokens_details", None), "cached_tokens", None)
            if cached:  # part of the input tokens, served from the provider's cache
                span.set_attribute("gen_ai.usage.cache_read.input_tokens", int(cached))
            if self._instruments is not None:
                _measure_tokens(self._instruments, request, tokens)
        if self.capture_content:
            prompt = context.result.rendered_prompt if context.result is not None else None
            if prompt is not None:
                span.set_attribute("gen_ai.input.messages", _prompt_messages(prompt))
            text = "".join(str(m) for m in messages if m is not None)
            span.set_attribute("gen_ai.output.messages", _messages("assistant", text, reasons))
            span.set_attribute("output.value", text)  # what Phoenix shows as the reply


def _exported_trace(span: Span) -> str | None:
    """The id of ``span``'s trace, if it is recorded: a viewer can find it."""
    context = span.get_span_context()
    sampled = context.is_valid and context.trace_flags & TraceFlags.SAMPLED
    return f"{context.trace_id:032x}" if sampled else None


class _Current:
    """``with _Current(span):`` makes ``span`` current inside the block and ends it after;
    an error leaving the block marks the span failed, unless ``marks_errors`` is off."""

    __slots__ = ("_marks_errors", "_span", "_token")

    def __init__(self, span: Span, *, marks_errors: bool = True) -> None:
        self._span, self._marks_errors = span, marks_errors

    def __enter__(self) -> Span:
        self._token = enter(self._span)
        return self._span

    def __exit__(self, kind: object, error: BaseException | None, traceback: object) -> None:
        leave(self._token)
        if error is not None and self._marks_errors:
            _failed(self._span, error)
        self._span.end()


class _RunScope(_Current):
    """A run's span: while it is current, the runs inside open none of their own.
    ``first``, if given, is called once it is current (a resumed run's answered step)."""

    __slots__ = ("_first", "_in_run")

    def __init__(self, span: Span, first: Callable[[], None] | None = None) -> None:
        super().__init__(span)
        self._first = first

    def __enter__(self) -> Span:
        self._in_run = _in_run.set(True)
        entered = super().__enter__()
        if self._first is not None:
            self._first()
        return entered

    def __exit__(self, kind: object, error: BaseException | None, traceback: object) -> None:
        _in_run.reset(self._in_run)
        super().__exit__(kind, error, traceback)


class _AttemptScope(_Current):
    """An attempt's span, which :meth:`Tracing._answered` fills in from the reply in
    ``context`` when the call returns."""

    __slots__ = ("_context", "_request", "_target", "_tracing")

    def __init__(
        self,
        span: Span,
        tracing: Tracing,
        context: FunctionInvocationContext,
        target: Target,
        request: Mapping[str, Any],
    ) -> None:
        self._span, self._marks_errors = span, True
        self._tracing, self._context = tracing, context
        self._target, self._request = target, request

    def __exit__(self, kind: object, error: BaseException | None, traceback: object) -> None:
        try:
            if error is None:
                self._tracing._answered(self._span, self._context, self._target, self._request)
        finally:
            super().__exit__(kind, error, traceback)


def _chat_attributes(
    context: FunctionInvocationContext, model: str, row: ModelConfig | None
) -> dict[str, Any]:
    """A model call's request attributes: provider, model, address and sampling settings."""
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": row.model if row is not None else model,
        "agent_host.model": model,
    }
    if row is None:
        return attributes
    attributes["gen_ai.provider.name"] = PROVIDERS.get(row.provider, row.provider)
    address = _address(row)
    if address is not None:
        attributes["server.address"], attributes["server.port"] = address
    settings = _settings(context, model)
    for key, name in (("max_tokens", "max_tokens"), ("temperature", "temperature")):
        value = settings.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            attributes[f"gen_ai.request.{name}"] = value
    return attributes


def _settings(context: FunctionInvocationContext, model: str) -> dict[str, Any]:
    """The sampling settings a prompt function asks of ``model`` (its own, else its default)."""
    function = context.function
    given = getattr(function, "prompt_execution_settings", None) or {}
    chosen = given.get(model) or given.get("default")
    if chosen is None:
        return {}
    settings = dict(chosen.extension_data or {})
    for key in ("max_tokens", "temperature"):
        value = getattr(chosen, key, None)
        if value is not None:
            settings[key] = value
    return settings


def _address(row: ModelConfig) -> tuple[str, int] | None:
    """Host and port a model is called at; ``None`` for one that runs in process."""
    url = row.base_url or ("https://api.openai.com/v1" if row.provider == "openai" else None)
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.hostname is None:
        return None
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


_RECORD_FIELDS = (
    ("agent_host.route.model", "model"),
    ("agent_host.route.reason", "route_reason"),
    ("gen_ai.response.model", "model_id"),
    ("gen_ai.usage.input_tokens", "tokens_in"),
    ("gen_ai.usage.output_tokens", "tokens_out"),
    ("agent_host.cost", "cost"),
    ("agent_host.confidence", "confidence"),
)
"""Attributes a step's record gives when it has them, with the record field of each."""

_RECORD_KEYS = tuple(key for key, _ in _RECORD_FIELDS)
_record_values = attrgetter(*(name for _, name in _RECORD_FIELDS))
"""The :data:`_RECORD_FIELDS` of a record, read at once."""
_NONE_OF_THEM = (None,) * len(_RECORD_FIELDS)


_spending = attrgetter("cost", "tokens_in", "tokens_out")
_UNSPENT = (None, None, None)


def _spent(records: tuple[StepRecord, ...]) -> tuple[Any, Any, Any]:
    """:func:`~host.state.spent` of cost, input and output tokens over ``records`` (nothing
    added up when no record has any: a native step's has none)."""
    if all(_spending(record) == _UNSPENT for record in records):
        return _UNSPENT
    return (
        spent(records, "cost"),
        spent(records, "tokens_in"),
        spent(records, "tokens_out"),
    )


def _record_attributes(record: StepRecord) -> dict[str, Any]:
    """A step's ``agent_host.*`` (and usage) attributes from its record and its events."""
    attributes: dict[str, Any] = {
        "agent_host.step.status": record.status,
        "agent_host.latency_ms": record.latency_ms,
        "agent_host.attempts": record.attempts,
        "agent_host.cache.hit": record.cache_hit,
        "agent_host.degraded": record.degraded,
    }
    values = _record_values(record)
    if values != _NONE_OF_THEM:  # a native step's record has none of them
        for key, value in zip(_RECORD_KEYS, values, strict=True):
            if value is not None:
                attributes[key] = value
    if record.provider is not None:
        attributes["gen_ai.provider.name"] = PROVIDERS.get(record.provider, record.provider)
    hops = 0
    for event in record.events:
        kind = event.kind
        if kind == "attempt":
            continue
        if kind == "fallback":
            hops += 1
        elif kind == "validation":
            attributes["agent_host.validation.verdict"] = event.outcome
            if event.error:
                attributes["agent_host.validation.problems"] = event.error
        elif kind == "on_fail":
            attributes["agent_host.downgrade"] = event.target
        elif kind == "replayed":
            attributes["agent_host.idempotent_replay"] = True
        elif kind == "breaker":
            attributes["agent_host.breaker.state"] = event.outcome
    if hops:
        attributes["agent_host.fallback.hops"] = hops
    return attributes


def _event_name(event: CallEvent) -> str:
    """A journal event's span event name: ``retry`` for a repeated attempt, else its kind."""
    return "retry" if event.kind == "attempt" else event.kind


_EVENT_KEYS = (
    "agent_host.attempt",
    "agent_host.model",
    "error.type",
    "agent_host.error",
    "agent_host.latency_ms",
)
_event_values = attrgetter("attempt", "model", "error_type", "error", "latency_ms")
"""A journal event's optional attributes (kept when given), with its field of each."""


def _event_attributes(event: CallEvent) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "agent_host.target": event.target,
        "agent_host.outcome": event.outcome,
    }
    for key, value in zip(_EVENT_KEYS, _event_values(event), strict=True):
        if value is not None:
            attributes[key] = value
    return attributes


def _failed(span: Span, error: BaseException) -> None:
    """Mark ``span`` failed by ``error`` (its class as ``error.type``, the exception recorded)."""
    span.set_attribute("error.type", type(error).__name__)
    span.record_exception(error)
    span.set_status(Status(StatusCode.ERROR, str(error)))


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _text(value: Any) -> str:
    """An output as a viewer shows it: text as it is, anything else as JSON."""
    return value if isinstance(value, str) else _json(value)


def _message(role: str, text: str | None) -> dict[str, Any]:
    """One text message in the conventions' ``gen_ai.*.messages`` form."""
    return {"role": role, "parts": [{"type": "text", "content": text}]}


def _messages(role: str, text: str, reasons: list[str] | None = None) -> str:
    """One message in the conventions' ``gen_ai.*.messages`` JSON form."""
    message = _message(role, text)
    if reasons:
        message["finish_reason"] = reasons[0]
    return _json([message])


def _prompt_messages(prompt: str) -> str:
    """A rendered prompt as the conventions' ``gen_ai.input.messages``: the messages SK
    sent for it (one per ``<message role=...>`` of its chat prompt markup; plain text is
    one user message)."""
    from semantic_kernel.contents import ChatHistory

    history = ChatHistory.from_rendered_prompt(prompt)
    messages = [_message(str(m.role.value), m.content) for m in history.messages]
    return _json(messages) if messages else _messages("user", prompt)


def _measure_tokens(
    instruments: Instruments, request: Mapping[str, Any], tokens: tuple[int, int]
) -> None:
    """Record a model call's input and output tokens, by its ``request`` attributes."""
    keys = ("gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model")
    common = {key: request[key] for key in keys if key in request}
    instruments.token_usage.record(tokens[0], {**common, "gen_ai.token.type": "input"})
    instruments.token_usage.record(tokens[1], {**common, "gen_ai.token.type": "output"})


def _measure_step(instruments: Instruments, record: StepRecord) -> None:
    """Record a step's duration and attempts, its hops, breaker opens and model calls."""
    common = {"agent_host.function": record.function, "agent_host.step.status": record.status}
    instruments.step_duration.record(record.latency_ms / 1000, common)
    instruments.attempts.add(record.attempts, common)
    for event in record.events:
        if event.kind == "fallback":
            instruments.fallbacks.add(1, {"agent_host.target": event.target})
        elif event.kind == "breaker" and event.outcome == "open":
            instruments.breaker_opens.add(1, {"agent_host.target": event.target})
        elif event.kind == "attempt" and event.model and event.latency_ms is not None:
            model = {"gen_ai.operation.name": "chat", "agent_host.model": event.model}
            instruments.operation_duration.record(event.latency_ms / 1000, model)
