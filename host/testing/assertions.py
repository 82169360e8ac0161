"""Assertions on what a run did: its steps, their journal of events, and its spans.

Each helper returns what it found, so a test can go on from it, and fails with
the run laid out one line a step (or the span tree, indented), so the message
shows what happened instead of only what did not::

    run = await host.execute(plan)
    step = assert_step(run, "weather.daily_temperatures", status="ok", attempts=2)
    assert_event(step, "attempt", outcome="error", count=1)

For spans, :class:`CapturedSpans` keeps a host's finished spans in memory (the
``traced`` fixture gives one, and ``agent_host`` then traces to it).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from host.state import CallEvent, RunResult, StepRecord

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

Ran = RunResult | StepRecord
"""A run's result, or the record of one step (what ``AgentHost.invoke`` returns)."""

_UNSET: Any = object()
"""An output no step has: ``output`` was not asked about."""

_SHOWN = 60
"""How many characters of an output or error a description shows."""


def describe_run(ran: Ran) -> str:
    """The run in a few lines: its status, then each step's id, function, status,
    attempts, route, output or error, and events."""
    if isinstance(ran, StepRecord):
        return _describe_step(ran)
    head = f"run {ran.status}"
    if ran.error:
        head += f": {_clip(ran.error)}"
    elif ran.output is not None:
        head += f", output={_short(ran.output)}"
    steps = [_describe_step(step) for step in ran.steps] or ["(no step ran)"]
    return "\n  ".join([head, *steps])


def assert_step(
    ran: Ran,
    function: str | None = None,
    /,
    *,
    step_id: str | None = None,
    status: str | None = None,
    output: Any = _UNSET,
    attempts: int | None = None,
    model: str | None = None,
    degraded: bool | None = None,
    cache_hit: bool | None = None,
) -> StepRecord:
    """The one step that called ``function`` (and has ``step_id``, when given), checked
    against every other argument given; fails naming each field that differs."""
    __tracebackhide__ = True
    candidates = [
        step
        for step in _steps(ran)
        if (function is None or step.function == function)
        and (step_id is None or step.step_id == step_id)
    ]
    wanted = " ".join(filter(None, [function, step_id and f"(step {step_id})"])) or "a step"
    if not candidates:
        raise AssertionError(f"no step ran {wanted}; the run:\n  {describe_run(ran)}")
    if len(candidates) > 1:
        ids = ", ".join(step.step_id for step in candidates)
        raise AssertionError(
            f"{len(candidates)} steps ran {wanted} ({ids}); name one with step_id=. "
            f"The run:\n  {describe_run(ran)}"
        )
    step = candidates[0]
    expected = {
        "status": status,
        "attempts": attempts,
        "model": model,
        "degraded": degraded,
        "cache_hit": cache_hit,
    }
    wrong = [
        f"{name} is {getattr(step, name)!r}, expected {value!r}"
        for name, value in expected.items()
        if value is not None and getattr(step, name) != value
    ]
    if output is not _UNSET and step.output != output:
        wrong.append(f"output is {step.output!r}, expected {output!r}")
    if wrong:
        raise AssertionError(
            f"step {step.step_id} ({step.function}): {'; '.join(wrong)}. "
            f"The run:\n  {describe_run(ran)}"
        )
    return step


def assert_steps(ran: Ran, *functions: str) -> tuple[StepRecord, ...]:
    """The run's steps called exactly ``functions``, in plan order."""
    __tracebackhide__ = True
    steps = _steps(ran)
    if [step.function for step in steps] != list(functions):
        raise AssertionError(
            f"expected steps {list(functions)}, got {[step.function for step in steps]}. "
            f"The run:\n  {describe_run(ran)}"
        )
    return steps


def assert_event(
    ran: Ran,
    kind: str,
    *,
    target: str | None = None,
    outcome: str | None = None,
    model: str | None = None,
    count: int | None = None,
) -> list[CallEvent]:
    """The journal events of ``kind`` (``attempt``, ``fallback``, ``cache_hit``,
    ``breaker``, ...) with the given target, outcome and model, across the run's steps:
    at least one, or exactly ``count`` (``count=0``: none happened)."""
    __tracebackhide__ = True
    found = [
        event
        for step in _steps(ran)
        for event in step.events
        if event.kind == kind
        and (target is None or event.target == target)
        and (outcome is None or event.outcome == outcome)
        and (model is None or event.model == model)
    ]
    if (len(found) != count) if count is not None else not found:
        filters = {"target": target, "outcome": outcome, "model": model}
        described = ", ".join(f"{k}={v!r}" for k, v in filters.items() if v is not None)
        wanted = f"{kind!r} events" + (f" with {described}" if described else "")
        number = f"{count}" if count is not None else "at least 1"
        raise AssertionError(
            f"expected {number} {wanted}, found {len(found)}. The run:\n  {describe_run(ran)}"
        )
    return found


def _steps(ran: Ran) -> tuple[StepRecord, ...]:
    return (ran,) if isinstance(ran, StepRecord) else ran.steps


def _describe_step(step: StepRecord) -> str:
    parts = [step.step_id, step.function, step.status, f"attempts={step.attempts}"]
    if step.model is not None:
        parts.append(f"model={step.model}")
    parts += [flag for flag in ("degraded", "cache_hit") if getattr(step, flag)]
    if step.status == "ok":
        parts.append(f"output={_short(step.output)}")
    else:
        parts.append(f"error={_clip(f'{step.error_type}: {step.error}')}")
    line = " ".join(parts)
    if step.events:
        events = ", ".join(_describe_event(event) for event in step.events)
        line += f"\n      events: {events}"
    return line


def _describe_event(event: CallEvent) -> str:
    """``kind(model or target) outcome``; a tool's attempt names nothing, being the step's."""
    label = event.model or (event.target if event.kind != "attempt" else None)
    return f"{event.kind}({label}) {event.outcome}" if label else f"{event.kind} {event.outcome}"


def _short(value: Any) -> str:
    return _clip(repr(value))


def _clip(text: str) -> str:
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


@dataclass
class CapturedSpans:
    """A tracer provider that keeps every finished span in memory.

    Give :attr:`provider` to ``AgentHost(tracer_provider=...)``; :meth:`tree` and
    :func:`assert_span_tree` read the spans back as a tree of names.
    """

    exporter: InMemorySpanExporter = field(init=False)
    provider: TracerProvider = field(init=False)

    def __post_init__(self) -> None:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
            InMemorySpanExporter,
        )

        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))

    def finished(self) -> list[ReadableSpan]:
        """The spans ended so far, in the order they started."""
        return sorted(self.exporter.get_finished_spans(), key=lambda span: span.start_time or 0)

    def named(self, name: str) -> list[ReadableSpan]:
        """The finished spans called ``name``, in the order they started."""
        return [span for span in self.finished() if span.name == name]

    def children(self, span: ReadableSpan) -> list[ReadableSpan]:
        """The finished spans whose parent is ``span``, in the order they started."""
        own = span.context.span_id
        return [s for s in self.finished() if s.parent is not None and s.parent.span_id == own]

    def tree(self) -> str:
        """Every finished span's name, indented two spaces under its parent's."""
        spans = self.finished()
        ids = {span.context.span_id for span in spans}
        roots = [s for s in spans if s.parent is None or s.parent.span_id not in ids]
        lines: list[str] = []

        def add(span: ReadableSpan, depth: int) -> None:
            lines.append("  " * depth + span.name)
            for child in self.children(span):
                add(child, depth + 1)

        for root in roots:
            add(root, 0)
        return "\n".join(lines)

    def shutdown(self) -> None:
        """End the provider; spans kept so far stay readable."""
        self.provider.shutdown()


def assert_span(
    spans: CapturedSpans, name: str, attributes: Mapping[str, Any] | None = None
) -> ReadableSpan:
    """The one finished span called ``name`` whose attributes include ``attributes``
    (as OpenTelemetry keeps them: a list is a tuple)."""
    __tracebackhide__ = True
    wanted = dict(attributes or {})
    named = spans.named(name)
    found = [s for s in named if all((s.attributes or {}).get(k) == v for k, v in wanted.items())]
    if len(found) != 1:
        having = f" with {wanted}" if wanted else ""
        seen = "".join(f"\n  {dict(span.attributes or {})}" for span in named)
        raise AssertionError(
            f"expected one span {name!r}{having}, found {len(found)}. "
            f"Spans named so: {len(named)}{seen}\nAll spans:\n{spans.tree()}"
        )
    return found[0]


@dataclass
class _Node:
    name: str
    children: list[_Node] = field(default_factory=list)


def assert_span_tree(spans: CapturedSpans, expected: str) -> None:
    """The finished spans hold ``expected``: span names, a child indented under its
    parent. Other spans may be around them; siblings keep the order given."""
    __tracebackhide__ = True
    if not _holds(spans, spans.finished(), _parse_tree(expected)):
        raise AssertionError(
            f"the spans do not hold the tree\n{textwrap.dedent(expected).strip()}\n"
            f"Spans:\n{spans.tree()}"
        )


def _parse_tree(text: str) -> list[_Node]:
    roots: list[_Node] = []
    stack: list[tuple[int, _Node]] = []
    for line in textwrap.dedent(text).splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        node = _Node(line.strip())
        while stack and stack[-1][0] >= indent:
            stack.pop()
        (stack[-1][1].children if stack else roots).append(node)
        stack.append((indent, node))
    return roots


def _holds(
    spans: CapturedSpans, candidates: Sequence[ReadableSpan], nodes: Sequence[_Node]
) -> bool:
    """Whether ``nodes`` match ``candidates`` in order, each with its children beneath."""
    position = 0
    for node in nodes:
        for index in range(position, len(candidates)):
            span = candidates[index]
            if span.name == node.name and _holds(spans, spans.children(span), node.children):
                position = index + 1
                break
        else:
            return False
    return True
