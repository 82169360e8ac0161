"""Secrets never leave in a span or a metric: every exporter the host builds is wrapped
in one of these.

:class:`RedactingSpanExporter` masks each secret registered with
:mod:`host.redaction` in every string a span carries to its exporter — name,
attribute values, event names and attributes (an exception's message and stack
trace), link attributes, status description and resource attributes — whoever
made the span (the host, or Semantic Kernel's own ``execute_tool`` spans). It
runs in the batch processor's worker thread, off the traced code's path, and
copies only a span that holds a secret. :class:`RedactingMetricExporter` masks
the attributes of each data point and exemplar and of the resource, in the
periodic reader's thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Link, Status
from opentelemetry.util.types import Attributes, AttributeValue

from host.redaction import redact


class RedactingSpanExporter(SpanExporter):
    """Pass spans on to ``exporter`` with every registered secret masked."""

    def __init__(self, exporter: SpanExporter) -> None:
        self._exporter = exporter

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        resources: dict[int, Resource] = {}
        return self._exporter.export([redacted_span(span, resources) for span in spans])

    def shutdown(self) -> None:
        self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._exporter.force_flush(timeout_millis)


def redacted_span(span: ReadableSpan, resources: dict[int, Resource] | None = None) -> ReadableSpan:
    """``span`` itself when it holds no secret, else a copy with each one masked.

    ``resources`` memoises masked resources by identity across one batch.
    """
    memo = {} if resources is None else resources
    resource = memo.get(id(span.resource))
    if resource is None:
        resource = memo[id(span.resource)] = _resource(span.resource)
    name = redact(span.name)
    original = span.attributes  # a fresh read-only view at each access
    attributes = _attributes(original)
    events, links = span.events, span.links
    masked_events = [_event(event) for event in events]
    masked_links = [_link(link) for link in links]
    status = span.status
    if status.description is not None and redact(status.description) != status.description:
        status = Status(status.status_code, redact(status.description))
    unchanged = (
        name == span.name
        and attributes is original
        and all(new is old for new, old in zip(masked_events, events, strict=True))
        and all(new is old for new, old in zip(masked_links, links, strict=True))
        and status is span.status
        and resource is span.resource
    )
    if unchanged:
        return span
    return ReadableSpan(
        name=name,
        context=span.context,
        parent=span.parent,
        resource=resource,
        attributes=attributes,
        events=masked_events,
        links=masked_links,
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class RedactingMetricExporter(MetricExporter):
    """Pass metrics on to ``exporter`` with every registered secret masked, asking for the
    temporality and aggregation it prefers."""

    def __init__(self, exporter: MetricExporter) -> None:
        super().__init__(
            preferred_temporality=exporter._preferred_temporality,
            preferred_aggregation=exporter._preferred_aggregation,
        )
        self._exporter = exporter

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        masked = redacted_metrics(metrics_data)
        return self._exporter.export(masked, timeout_millis=timeout_millis, **kwargs)

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self._exporter.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._exporter.shutdown(timeout_millis=timeout_millis, **kwargs)


def redacted_metrics(data: MetricsData) -> MetricsData:
    """``data`` with each secret masked in its resources' attributes and in those of every
    data point and its exemplars (metric names and units are the host's own)."""
    return replace(
        data,
        resource_metrics=[
            replace(
                resource_metrics,
                resource=_resource(resource_metrics.resource),
                scope_metrics=[
                    replace(
                        scope,
                        metrics=[replace(m, data=_data(m.data)) for m in scope.metrics],
                    )
                    for scope in resource_metrics.scope_metrics
                ],
            )
            for resource_metrics in data.resource_metrics
        ],
    )


def _data(data: Any) -> Any:
    """A metric's data (a sum, gauge or histogram) with its data points masked."""
    return replace(data, data_points=[_point(point) for point in data.data_points])


def _point(point: Any) -> Any:
    exemplars = [
        replace(e, filtered_attributes=_attributes(e.filtered_attributes)) for e in point.exemplars
    ]
    return replace(point, attributes=_attributes(point.attributes), exemplars=exemplars)


def _resource(resource: Resource) -> Resource:
    attributes = _attributes(resource.attributes)
    same = attributes is resource.attributes
    return resource if same else Resource(attributes or {}, resource.schema_url)


def _event(event: Event) -> Event:
    attributes = _attributes(event.attributes)
    name = redact(event.name)
    if attributes is event.attributes and name == event.name:
        return event
    return Event(name, attributes, event.timestamp)


def _link(link: Link) -> Link:
    attributes = _attributes(link.attributes)
    return link if attributes is link.attributes else Link(link.context, attributes)


def _attributes(attributes: Attributes) -> Attributes:
    """``attributes`` itself when no value holds a secret, else a masked copy."""
    if not attributes:
        return attributes
    masked = {key: _value(value) for key, value in attributes.items()}
    changed = any(masked[key] is not value for key, value in attributes.items())
    return masked if changed else attributes


def _value(value: AttributeValue) -> AttributeValue:
    if isinstance(value, str):
        text = redact(value)
        return value if text == value else text
    if isinstance(value, Sequence) and value and isinstance(value[0], str):
        texts = tuple(redact(str(item)) for item in value)  # a sequence holds one type
        return value if texts == tuple(value) else texts
    return value
