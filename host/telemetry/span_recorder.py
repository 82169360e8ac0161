"""Spans for an OpenTelemetry SDK provider at a fraction of the SDK tracer's cost per span.

The SDK's ``Tracer.start_span`` validates every attribute, takes several locks
and asks the sampler for each span: about 15 µs, more than a whole step of
native code costs the host. The host's spans carry plain values it builds
itself, so :class:`SpanRecorder` keeps them in a dict and hands the provider's
span processors the same :class:`~opentelemetry.sdk.trace.ReadableSpan` an SDK
span would, when the span ends. Sampling is decided once per trace, by the
provider's sampler at the root span; the spans beneath follow it (what the SDK's
default parent-based sampler does).
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)
from opentelemetry.trace.span import Span

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.util.types import AnyValue, Attributes

_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_UNSET = Status(StatusCode.UNSET)
_UNSAMPLED = TraceFlags(TraceFlags.DEFAULT)


class SpanRecorder:
    """Starts spans whose ends go to ``provider``'s span processors (its exporters)."""

    def __init__(self, provider: TracerProvider, scope: str, version: str) -> None:
        # The provider's processors, as its own tracers reach them (no public accessor).
        self._processor: SpanProcessor = provider._active_span_processor
        self._resource = provider.resource
        self._sampler = provider.sampler
        self._ids = provider.id_generator
        self._scope = InstrumentationScope(scope, version)

    def start_span(
        self,
        name: str,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Mapping[str, AnyValue] | None = None,
    ) -> Span:
        """A span beneath the current one (a new trace if none), not made current."""
        parent = trace.get_current_span().get_span_context()
        attributes = dict(attributes or {})
        if parent.is_valid:
            if not parent.trace_flags.sampled:
                return NonRecordingSpan(_child(parent, self._ids.generate_span_id()))
            trace_id = parent.trace_id
        else:
            trace_id = self._ids.generate_trace_id()
            decision = self._sampler.should_sample(None, trace_id, name, kind, attributes)
            if decision.decision is not Decision.RECORD_AND_SAMPLE:
                context = SpanContext(trace_id, self._ids.generate_span_id(), False, _UNSAMPLED)
                return NonRecordingSpan(context)
            attributes.update(decision.attributes or {})
        context = SpanContext(trace_id, self._ids.generate_span_id(), False, _SAMPLED)
        span = _RecordedSpan(self, name, context, parent if parent.is_valid else None, kind)
        span._attributes = attributes
        self._processor.on_start(span)  # type: ignore[arg-type]  # the SDK's processors read no more
        return span


def _child(parent: SpanContext, span_id: int) -> SpanContext:
    return SpanContext(parent.trace_id, span_id, False, parent.trace_flags, parent.trace_state)


class _RecordedSpan(Span, ReadableSpan):
    """A recording span kept as plain data; ended, it is the
    :class:`~opentelemetry.sdk.trace.ReadableSpan` the processors get (as the SDK's own
    spans are), so ending one copies nothing."""

    def __init__(
        self,
        recorder: SpanRecorder,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        kind: SpanKind,
    ) -> None:
        self._recorder, self._name, self._context = recorder, name, context
        self._own = context
        """The span's context, never ``None`` (``_context`` is typed as a ReadableSpan's)."""
        self._parent, self._kind = parent, kind
        self._resource, self._instrumentation_scope = recorder._resource, recorder._scope
        self._instrumentation_info = None
        self._attributes: dict[str, Any] = {}
        # Lists made when first needed: most spans have neither, and an ended span waits
        # in the export queue, where every container it holds is more for the collector.
        self._events: Sequence[Event] = ()
        self._links: Sequence[trace.Link] = ()
        self._status = _UNSET
        self._start_time: int = time.time_ns()
        self._end_time: int | None = None

    def get_span_context(self) -> SpanContext:
        return self._own

    @property
    def _ended(self) -> bool:
        return self._end_time is not None

    def is_recording(self) -> bool:
        return not self._ended

    def set_attribute(self, key: str, value: AnyValue) -> None:
        if not self._ended:
            self._attributes[key] = _frozen(value)

    def set_attributes(self, attributes: Mapping[str, AnyValue]) -> None:
        if not self._ended:
            self._attributes.update({key: _frozen(value) for key, value in attributes.items()})

    def add_event(
        self, name: str, attributes: Attributes = None, timestamp: int | None = None
    ) -> None:
        if not self._ended:
            event = Event(name, dict(attributes or {}), timestamp or time.time_ns())
            self._events = [*self._events, event]

    def add_link(self, context: SpanContext, attributes: Attributes = None) -> None:
        if not self._ended:
            self._links = [*self._links, trace.Link(context, attributes)]

    def update_name(self, name: str) -> None:
        if not self._ended:
            self._name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        if self._ended or self._status.status_code is StatusCode.OK:
            return  # as the SDK: an OK status is final
        if isinstance(status, StatusCode):
            status = Status(status, description)
        self._status = status

    def record_exception(
        self,
        exception: BaseException,
        attributes: Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        """An ``exception`` event, with the attributes the SDK gives one."""
        stack = "".join(traceback.format_exception(exception))
        recorded: dict[str, Any] = {
            "exception.type": _type_name(exception),
            "exception.message": str(exception),
            "exception.stacktrace": stack,
            "exception.escaped": str(escaped),
        }
        recorded.update(attributes or {})
        self.add_event("exception", recorded, timestamp)

    def end(self, end_time: int | None = None) -> None:
        if self._ended:
            return
        self._end_time = end_time or time.time_ns()
        self._recorder._processor.on_end(self)


def _frozen(value: AnyValue) -> AnyValue:
    """``value`` as an attribute keeps it: a list as a tuple, so later changes do not show."""
    return tuple(value) if isinstance(value, list) else value


def recorder_for(provider: object, scope: str, version: str) -> SpanRecorder | None:
    """A :class:`SpanRecorder` for an SDK ``provider``; ``None`` for any other kind, and
    for one the SDK's own tracer must serve: disabled (``OTEL_SDK_DISABLED``), or with an
    attribute length limit to apply."""
    from opentelemetry.sdk.trace import TracerProvider

    if not isinstance(provider, TracerProvider):
        return None
    if provider._disabled or provider._span_limits.max_span_attribute_length is not None:
        return None
    return SpanRecorder(provider, scope, version)


def _type_name(error: BaseException) -> str:
    """The exception's class, module-qualified unless built in (as the SDK names it)."""
    kind = type(error)
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"
