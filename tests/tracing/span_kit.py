"""Reading the host's finished spans as a tree, and the tools and configs the span tests run.

:class:`SpanTree` answers the questions every span test asks: which spans have a
name, which are a span's children, which are roots, how many traces there are.
:func:`write_host` writes a config of scripted models over the ``talk`` prompts
of :mod:`tests.resilience.resilience_kit` and the scripted tools of :data:`TOOLS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import StatusCode

from tests.resilience.resilience_kit import write_config

TOOLS = '''\
"""Scripted native tools, one per behaviour a span test needs (``<plugin>.count``), and
``probe.where``, which tells which span is current while it runs."""

from opentelemetry import trace
from semantic_kernel.functions import kernel_function

from host.testing import Fail, FaultyTool, Return


class Steady(FaultyTool):
    """Answers 3, every time."""

    plugin_name = "steady"

    def __init__(self) -> None:
        super().__init__(Return(3))


class Flaky(FaultyTool):
    """Fails once with a retryable error, then answers 3."""

    plugin_name = "flaky"

    def __init__(self) -> None:
        super().__init__(Fail(ConnectionError("link down")), Return(3))


class Archive(FaultyTool):
    """Answers 7 once, then its source is down."""

    plugin_name = "archive"

    def __init__(self) -> None:
        super().__init__(Return(7), Fail(ConnectionError("archive down")))


class Broken(FaultyTool):
    """Always fails with an error no retry helps."""

    plugin_name = "broken"

    def __init__(self) -> None:
        super().__init__(Fail(ValueError("bad query")))


class Probe:
    """Answers with the current span as ``<trace id>/<span id>``, or ``none``."""

    plugin_name = "probe"

    @kernel_function(description="The current span as trace/span id, or none.")
    def where(self, query: str) -> str:
        context = trace.get_current_span().get_span_context()
        if not context.is_valid:
            return "none"
        return f"{context.trace_id:032x}/{context.span_id:016x}"
'''


def write_host(
    folder: Path,
    *,
    models: Mapping[str, Mapping[str, Any]] | None = None,
    tools: Mapping[str, Mapping[str, Any]] | None = None,
    **extra: Any,
) -> Path:
    """``host.yaml`` in ``folder``: ``models`` (default: scripted ``main``), the ``talk``
    prompts (``Ask`` with ``max_tokens: 20``, ``Agent``), the tools of :data:`TOOLS`
    with their ``tools`` policies, and ``extra`` sections; runs in ``runs.sqlite3``."""
    plugins = folder / "plugins"
    plugins.mkdir(exist_ok=True)
    (plugins / "scripted_tools.py").write_text(TOOLS, encoding="utf-8")
    extra.setdefault("runs", {"database": "runs.sqlite3"})
    return write_config(
        folder,
        models={k: dict(v) for k, v in (models or {}).items()} or None,
        tools={k: dict(v) for k, v in (tools or {}).items()},
        plugins={"directories": ["plugins"]},
        **extra,
    )


def step(
    step_id: str, function: str = "steady.count", *after: str, **arguments: Any
) -> dict[str, Any]:
    """A plan step calling ``function`` (``query="q"`` unless ``arguments`` say otherwise),
    after the steps ``after``."""
    return {
        "id": step_id,
        "function": function,
        "arguments": arguments or {"query": "q"},
        "depends_on": list(after),
        "capability": "fetch",
    }


@dataclass(frozen=True)
class SpanTree:
    """Finished spans, in the order they ended, read as a tree."""

    spans: Sequence[ReadableSpan]

    def named(self, name: str) -> list[ReadableSpan]:
        """Every span called ``name``, in the order they started."""
        return sorted((s for s in self.spans if s.name == name), key=_start)

    def one(self, name: str) -> ReadableSpan:
        """The only span called ``name``."""
        found = self.named(name)
        assert len(found) == 1, f"{len(found)} spans named {name!r}; spans: {self.outline()}"
        return found[0]

    def starting(self, prefix: str) -> list[ReadableSpan]:
        """Every span whose name starts with ``prefix``, in the order they started."""
        return sorted((s for s in self.spans if s.name.startswith(prefix)), key=_start)

    def roots(self) -> list[ReadableSpan]:
        """Every span without a parent, in the order they started."""
        return sorted((s for s in self.spans if s.parent is None), key=_start)

    def children(self, span: ReadableSpan) -> list[ReadableSpan]:
        """The spans whose parent is ``span``, in the order they started."""
        own = span.context.span_id
        found = (s for s in self.spans if s.parent is not None and s.parent.span_id == own)
        return sorted(found, key=_start)

    def parent(self, span: ReadableSpan) -> ReadableSpan | None:
        """The finished span that is ``span``'s parent, if any."""
        if span.parent is None:
            return None
        return next((s for s in self.spans if s.context.span_id == span.parent.span_id), None)

    def trace_ids(self) -> set[str]:
        """The id of every trace the spans belong to, as 32 hex digits."""
        return {trace_id(s) for s in self.spans}

    def in_trace(self, trace: str) -> SpanTree:
        """Only the spans of trace ``trace``."""
        return SpanTree([s for s in self.spans if trace_id(s) == trace])

    def outline(self) -> list[tuple[str, str | None]]:
        """Each span's name and its parent's, in the order they started (for messages)."""
        parents = {s.context.span_id: s.name for s in self.spans}
        return [
            (s.name, parents.get(s.parent.span_id, "?") if s.parent else None)
            for s in sorted(self.spans, key=_start)
        ]


Finished = Callable[[], SpanTree]
"""The ``finished`` fixture: the spans ended so far."""


def trace_id(span: ReadableSpan) -> str:
    """``span``'s trace id as 32 hex digits (the form of ``RunResult.trace_id``)."""
    return f"{span.context.trace_id:032x}"


def event_names(span: ReadableSpan) -> list[str]:
    """The names of ``span``'s events, in order."""
    return [event.name for event in span.events]


def events(span: ReadableSpan, name: str) -> list[Event]:
    """``span``'s events called ``name``."""
    return [event for event in span.events if event.name == name]


def failed(span: ReadableSpan) -> bool:
    """Whether ``span`` ended with status ERROR."""
    return span.status.status_code is StatusCode.ERROR


def attribute_keys(spans: Iterable[ReadableSpan]) -> set[str]:
    """Every attribute key of ``spans`` and of their events."""
    keys: set[str] = set()
    for span in spans:
        keys.update(span.attributes or {})
        for event in span.events:
            keys.update(event.attributes or {})
    return keys


def _start(span: ReadableSpan) -> int:
    return span.start_time or 0
