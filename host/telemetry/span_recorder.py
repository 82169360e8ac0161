"""Spans for an OpenTelemetry SDK provider at a fraction of the SDK tracer's cost per span.

The SDK's ``Tracer.start_span`` validates every attribute, takes several locks
and asks the sampler for each span: about 15 µs, more than a whole step of
native code costs the host. The host's spans carry plain values it builds
itself, so :class:`SpanRecorder` keeps them in a dict and hands the provider's
span processors the same :class:`~opentelemetry.sdk.trace.ReadableSpan` an SDK
span would, when the span ends. Sampling is decided once per trace, by the
provider's sampler at the root span; the spans beneath follow it (what the SDK's
default parent-based sampler does).

Secrets stay out of the spans an application's own provider gets, too: for a provider
whose exporters the host did not build (and so did not wrap,
:mod:`host.telemetry.redacting`), an ended span that holds a registered secret reaches
the processors as a masked copy.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from itertools import repeat
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.sdk.trace import Event, ReadableSpan, SynchronousMultiSpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Decision, ParentBased
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)
from opentelemetry.trace.span import DEFAULT_TRACE_STATE, Span

from host.redaction import any_registered
from host.telemetry.current import current_span

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.util.types import AnyValue, Attributes

_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_UNSET = Status(StatusCode.UNSET)
_UNSAMPLED = TraceFlags(TraceFlags.DEFAULT)
_LISTS = repeat(list)
_NO_STATE = DEFAULT_TRACE_STATE
_TRACE_ID_MAX, _SPAN_ID_MAX = 2**128 - 1, 2**64 - 1
_new_context = tuple.__new__
_QUIET_START = (BatchSpanProcessor, SimpleSpanProcessor)
"""The SDK's exporting processors, whose ``on_start`` does nothing: not called."""


class SpanRecorder:
    """Starts spans whose ends go to ``provider``'s span processors (its exporters)."""

    def __init__(
        self, provider: TracerProvider, scope: str, version: str, *, masks: bool = True
    ) -> None:
        # The provider's processors, as its own tracers reach them (no public accessor).
        active = self._processor = provider._active_span_processor
        self._resource = provider.resource
        sampler = self._sampler = provider.sampler
        root = sampler._root if type(sampler) is ParentBased else sampler
        self._samples_roots = root is ALWAYS_ON
        """Whether every new trace is sampled, as the SDK's default sampler decides (with no
        attribute to add): the sampler is then not asked."""
        self._ids = provider.id_generator
        self._span_id = self._ids.generate_span_id
        self._scope = InstrumentationScope(scope, version)
        self._multi = active if type(active) is SynchronousMultiSpanProcessor else None
        """The provider's own list of processors, which a processor added changes."""
        self._masks = masks
        """Whether an ended span is masked before the processors get it: the provider's
        exporters are not the host's own, which mask what they export."""
        self._known: object = None
        self._starts: tuple[Callable[[Any], object], ...] = ()
        self._ends: tuple[Callable[[Any], object], ...] = ()
        self._hooks()

    def _hooks(self) -> None:
        """What each span's start and end call: each of the provider's processors' own
        ``on_start`` and ``on_end``, learnt again when a processor is added.

        Of the provider's own list (a ``SynchronousMultiSpanProcessor``), a processor
        of the SDK's that exports does nothing on start, and a batching one's end is its
        queue's ``emit`` (every recorded span is sampled): those calls are left out.
        """
        active = self._processor
        if self._multi is None:
            self._known, self._starts, self._ends = active, (active.on_start,), (active.on_end,)
            return
        processors = self._multi._span_processors
        self._known = processors
        self._starts = tuple(p.on_start for p in processors if type(p) not in _QUIET_START)
        self._ends = tuple(
            p._batch_processor.emit if type(p) is BatchSpanProcessor else p.on_end
            for p in processors
        )

    def start_span(
        self,
        name: str,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Mapping[str, AnyValue] | None = None,
    ) -> Span:
        """A span beneath the current one (a new trace if none), not made current."""
        current = current_span()
        if type(current) is _RecordedSpan and current._own[5]:  # ours, valid: sampled
            parent: SpanContext | None = current._own
            trace_id = current._own[0]
            attributes = dict(attributes) if attributes else {}
        else:  # another's span, or a no-op tracer's (Semantic Kernel's) over one of ours
            context = current.get_span_context()
            attributes = dict(attributes) if attributes else {}
            # A SpanContext is a tuple: (trace id, span id, remote, flags, state, valid)
            if context[5]:
                if not context[3] & TraceFlags.SAMPLED:
                    return NonRecordingSpan(_child(context, self._span_id()))
                trace_id, parent = context[0], context
            else:
                trace_id, parent = self._ids.generate_trace_id(), None
                if not self._samples_roots:
                    decision = self._sampler.should_sample(None, trace_id, name, kind, attributes)
                    if decision.decision is not Decision.RECORD_AND_SAMPLE:
                        unsampled = SpanContext(trace_id, self._span_id(), False, _UNSAMPLED)
                        return NonRecordingSpan(unsampled)
                    attributes.update(decision.attributes or {})
        span_id = self._span_id()
        valid = 0 < trace_id <= _TRACE_ID_MAX and 0 < span_id <= _SPAN_ID_MAX
        # SpanContext(trace_id, span_id, False, _SAMPLED), without its checks' call
        own = _new_context(SpanContext, (trace_id, span_id, False, _SAMPLED, _NO_STATE, valid))
        span = _RecordedSpan(self, name, own, parent, kind, attributes)
        multi = self._multi
        if multi is not None and multi._span_processors is not self._known:
            self._hooks()
        for on_start in self._starts:
            on_start(span)
        return span


def _child(parent: SpanContext, span_id: int) -> SpanContext:
    return SpanContext(parent.trace_id, span_id, False, parent.trace_flags, parent.trace_state)


class _RecordedSpan(Span, ReadableSpan):
    """A recording span kept as plain data; ended, it is the
    :class:`~opentelemetry.sdk.trace.ReadableSpan` the processors get (as the SDK's own
    spans are), so ending one copies nothing.

    What most spans keep as they start (no events, no links, status unset, not ended) is
    the class's until set: fewer stores per span."""

    # No list of events or links until one is added: most spans have neither, and an ended
    # span waits in the export queue, where every container it holds is more to collect.
    _events: Sequence[Event] = ()
    _links: Sequence[trace.Link] = ()
    _status = _UNSET
    _end_time: int | None = None
    _instrumentation_info = None

    def __init__(
        self,
        recorder: SpanRecorder,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        kind: SpanKind,
        attributes: dict[str, Any],
    ) -> None:
        self._recorder, self._name, self._context = recorder, name, context
        self._own = context
        """The span's context, never ``None`` (``_context`` is typed as a ReadableSpan's)."""
        self._parent, self._kind = parent, kind
        self._resource, self._instrumentation_scope = recorder._resource, recorder._scope
        self._attributes: dict[str, Any] = attributes
        self._start_time: int = time.time_ns()

    def get_span_context(self) -> SpanContext:
        return self._own

    @property
    def _ended(self) -> bool:
        return self._end_time is not None

    def is_recording(self) -> bool:
        return self._end_time is None

    def set_attribute(self, key: str, value: AnyValue) -> None:
        if self._end_time is None:
            self._attributes[key] = _frozen(value)

    def set_attributes(self, attributes: Mapping[str, AnyValue]) -> None:
        if self._end_time is None:
            kept = self._attributes
            kept.update(attributes)
            if True in map(isinstance, attributes.values(), _LISTS):  # rare: as tuples
                kept.update({key: _frozen(value) for key, value in attributes.items()})

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
        if self._end_time is not None:
            return
        self._end_time = end_time or time.time_ns()
        recorder = self._recorder
        multi = recorder._multi
        if multi is not None and multi._span_processors is not recorder._known:
            recorder._hooks()
        ended: ReadableSpan = self
        if recorder._masks and any_registered():
            from host.telemetry.redacting import redacted_span

            ended = redacted_span(self)
        for on_end in recorder._ends:
            on_end(ended)


def _frozen(value: AnyValue) -> AnyValue:
    """``value`` as an attribute keeps it: a list as a tuple, so later changes do not show."""
    return tuple(value) if isinstance(value, list) else value


def recorder_for(provider: object, scope: str, version: str, *, masks: bool) -> SpanRecorder | None:
    """A :class:`SpanRecorder` for an SDK ``provider`` (``masks``: see :class:`SpanRecorder`);
    ``None`` for any other kind, and for one the SDK's own tracer must serve: disabled
    (``OTEL_SDK_DISABLED``), or with an attribute length limit to apply."""
    from opentelemetry.sdk.trace import TracerProvider

    if not isinstance(provider, TracerProvider):
        return None
    if provider._disabled or provider._span_limits.max_span_attribute_length is not None:
        return None
    return SpanRecorder(provider, scope, version, masks=masks)


def _type_name(error: BaseException) -> str:
    """The exception's class, module-qualified unless built in (as the SDK names it)."""
    kind = type(error)
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"
