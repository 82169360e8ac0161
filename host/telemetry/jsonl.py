"""A span exporter that appends one JSON object per span to a local file: no server needed.

Each line holds ``trace_id``, ``span_id``, ``parent_id`` (hex, ``null`` for a
root), ``name``, ``kind``, ``start_time_unix_nano``, ``end_time_unix_nano``,
``status`` (``code`` and ``description``), ``attributes``, ``events``,
``links``, ``resource`` and ``scope``. A batch is written with one ``write`` to
a file opened for appending, so it reaches the file before ``export`` returns
and lines from several processes do not interleave.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import format_span_id, format_trace_id

_log = logging.getLogger(__name__)


class JsonLinesSpanExporter(SpanExporter):
    """Append spans to ``path`` (its folder is created); :class:`OSError` if it cannot be opened.

    A batch that cannot be written (a full disk) is lost with a warning naming the file.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._descriptor: int | None = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._lock = threading.Lock()
        self._path = path

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        data = "".join(json.dumps(span_record(span)) + "\n" for span in spans).encode()
        with self._lock:
            if self._descriptor is None:
                return SpanExportResult.FAILURE
            view = memoryview(data)
            try:
                while view:
                    view = view[os.write(self._descriptor, view) :]
            except OSError as problem:
                _log.warning(
                    "telemetry: %d span(s) not written to %s (%s)",
                    len(spans),
                    self._path,
                    problem.strerror,
                )
                return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        with self._lock:
            if self._descriptor is not None:
                os.close(self._descriptor)
                self._descriptor = None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True  # every export is written through


def span_record(span: ReadableSpan) -> dict[str, Any]:
    """The JSON-ready record of one finished span."""
    context = span.get_span_context()
    assert context is not None  # every SDK span has one
    return {
        "trace_id": format_trace_id(context.trace_id),
        "span_id": format_span_id(context.span_id),
        "parent_id": format_span_id(span.parent.span_id) if span.parent else None,
        "name": span.name,
        "kind": span.kind.name,
        "start_time_unix_nano": span.start_time,
        "end_time_unix_nano": span.end_time,
        "status": {"code": span.status.status_code.name, "description": span.status.description},
        "attributes": _attributes(span.attributes),
        "events": [
            {
                "name": event.name,
                "time_unix_nano": event.timestamp,
                "attributes": _attributes(event.attributes),
            }
            for event in span.events
        ],
        "links": [
            {
                "trace_id": format_trace_id(link.context.trace_id),
                "span_id": format_span_id(link.context.span_id),
                "attributes": _attributes(link.attributes),
            }
            for link in span.links
        ],
        "resource": _attributes(span.resource.attributes),
        "scope": span.instrumentation_scope.name if span.instrumentation_scope else None,
    }


def _attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    return {key: _value(value) for key, value in (attributes or {}).items()}


def _value(value: Any) -> Any:
    """An attribute value as JSON: a sequence as a list, NaN and infinities as text."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_value(item) for item in value]
    return value
