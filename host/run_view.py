"""How the terminal shows recorded runs: the ``runs`` table and the ``trace`` tree (rich)."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.table import Table
    from rich.text import Text
    from rich.tree import Tree

    from host.run_store import RecordedRun
    from host.state import CallEvent, StepRecord


SHORT_ID = 10
"""How much of a run id ``runs`` shows: enough for ``trace`` to find the run by."""


def runs_table(runs: list[RecordedRun]) -> Table:
    """``agent-host runs``: a row per run (id, start, request, status, duration, cost)."""
    from rich.table import Table

    table = Table(box=None, header_style="bold", expand=True)  # the request takes what is left
    table.add_column("RUN", no_wrap=True)
    table.add_column("STARTED (UTC)", no_wrap=True)
    table.add_column("REQUEST", no_wrap=True, overflow="ellipsis", min_width=10, ratio=1)
    table.add_column("STATUS", no_wrap=True)
    table.add_column("DURATION", justify="right", no_wrap=True)
    table.add_column("COST", justify="right", no_wrap=True)
    for run in runs:
        table.add_row(
            run.run_id[:SHORT_ID],
            f"{run.started_at:%Y-%m-%d %H:%M}",
            run.request,
            styled(run.status),
            duration(run.duration_ms),
            "-" if run.cost is None else f"{run.cost:.4f}",
        )
    return table


def headline(run: RecordedRun) -> Text | None:
    """For a run that did not end ``ok``: one line saying why (or what it waits for)."""
    from rich.text import Text

    if run.status == "needs_human":
        return Text(f"waiting for a person at step {run.waiting_step!r}: {run.question}", "yellow")
    if run.status == "ok":
        return None
    failed = next((step for step in run.steps if step.status == "failed"), None)
    if failed is None:
        reason = (run.error or run.status).splitlines()[0]
        return Text(f"why: {reason}", "bold red")
    hops = [event for event in failed.events if event.kind == "fallback"]
    tried = f"after {failed.attempts} attempt(s)"
    if hops:
        tried += " and fallback " + ", ".join(f"{hop.target} ({hop.outcome})" for hop in hops)
    error = f"{failed.error_type}: {failed.error}" if failed.error_type else failed.error
    return Text(
        f"why: step {failed.step_id!r} ({failed.function}) failed {tried}: {error}", "bold red"
    )


def run_tree(run: RecordedRun) -> Tree:
    """The run, its planning, steps and compensations, each with what happened inside it."""
    from rich.text import Text
    from rich.tree import Tree

    label = Text.assemble(
        ("run ", "bold"),
        (run.run_id, "bold"),
        f"  {run.kind}" + (f" {run.name}" if run.kind != "plan" else "") + "  ",
        styled(run.status),
        f"  {duration(run.duration_ms)}  {run.started_at:%Y-%m-%d %H:%M:%S} UTC",
        usage_line(run.cost, run.tokens_in, run.tokens_out),
        ("  degraded", "yellow") if run.degraded else "",
        f"  trace {run.trace_id}" if run.trace_id else "",
    )
    tree = Tree(label)
    tree.add(Text(f"request: {run.request}"))
    if run.plan:
        tree.add(Text(f"plan: {run.plan}", "dim"))
    if run.error:
        tree.add(Text(f"error: {run.error}", "red"))
    if run.planning:
        _add_steps(tree.add(Text("planning", "bold")), run.planning)
    if run.kind == "team":
        _add_rounds(tree, run.steps)
    else:
        _add_steps(tree, run.steps)
    if run.compensations:
        _add_steps(tree.add(Text("compensations", "bold")), run.compensations)
    return tree


def _add_steps(parent: Tree, records: tuple[StepRecord, ...]) -> None:
    from rich.text import Text

    for record in records:
        failed = record.status == "failed"
        served = f"  {record.model}" if record.model else ""
        if record.model and record.provider:  # a failed call has no provider that answered
            served += f" ({record.provider}/{record.model_id})"
        node = parent.add(
            Text.assemble(
                ("✗ " if failed else "✓ ", "red" if failed else "green"),
                (record.step_id, "bold red" if failed else "bold"),
                f"  {record.function}  ",
                styled(record.status),
                f"  {duration(record.latency_ms)}{served}",
                usage_line(record.cost, record.tokens_in, record.tokens_out),
                f"  confidence {record.confidence:.2f}" if record.confidence is not None else "",
                ("  cache hit", "cyan") if record.cache_hit else "",
                ("  degraded", "yellow") if record.degraded else "",
            )
        )
        if record.route_reason:
            node.add(Text(f"route: {record.model} — {record.route_reason}", "dim"))
        _add_events(node, record)
        if failed:
            node.add(Text(f"error: {record.error_type}: {record.error}", "red"))
        elif record.output is not None:
            node.add(Text(f"output: {preview(record.output)}", "dim"))


_ROUND = re.compile(r"(?:turn|pick|decide)_(\d+)(?:_|$)")
"""A team's step id, with its round: ``turn_2_reviewer``, ``pick_2``, ``decide_2``."""


def _add_rounds(parent: Tree, records: tuple[StepRecord, ...]) -> None:
    """A team's turns under one node per round (the transcript, round by round); a step
    of no round (a fallback) on its own."""
    from rich.text import Text

    node, shown = parent, None
    for record in records:
        found = _ROUND.match(record.step_id)
        if found is None:
            node, shown = parent, None
        elif found[1] != shown:
            node, shown = parent.add(Text(f"round {found[1]}", "bold")), found[1]
        _add_steps(node, (record,))


def _add_events(node: Tree, record: StepRecord) -> None:
    """Each event under ``node``; a fallback hop's own attempts under the hop."""
    hop_attempts: list[CallEvent] = []
    primary = next((e.target for e in record.events if e.kind == "attempt"), None)
    for event in record.events:
        if event.kind == "attempt" and event.target != primary:
            hop_attempts.append(event)
            continue
        branch = node.add(_event_text(event))
        if event.kind == "fallback":
            for attempt in [a for a in hop_attempts if a.target == event.target]:
                branch.add(_event_text(attempt))
            hop_attempts = [a for a in hop_attempts if a.target != event.target]
    for attempt in hop_attempts:
        node.add(_event_text(attempt))


_EVENT_LABELS = {
    "attempt": "attempt {attempt} {target}",
    "fallback": "fallback hop → {target}",
    "cache_hit": "cache hit {target}",
    "stale_served": "stale cache served {target}",
    "breaker": "breaker {target} →",
    "rejected": "tool call rejected {target}",
    "validation": "validation {target}",
    "on_fail": "on_fail {target}",
    "replayed": "replayed {target} (done before, not run again)",
    "answered": "answered by a person",
}
"""How each kind of :class:`~host.state.CallEvent` reads, before its outcome."""


def _event_text(event: CallEvent) -> Text:
    """One event: what it was, its outcome, latency and error (red when it failed)."""
    from rich.text import Text

    label = _EVENT_LABELS.get(event.kind, event.kind + " {target}").format(
        attempt=event.attempt or "", target=event.target
    )
    if event.model and event.model != event.target:
        label += f" ({event.model})"
    text = Text.assemble(f"{label}  ", styled(event.outcome))
    if event.latency_ms is not None:
        text.append(f"  {duration(event.latency_ms)}")
    if event.error:
        text.append(f"  {event.error}", _OUTCOME_STYLES.get(event.outcome, "") or "dim")
    return text


_OUTCOME_STYLES = {
    "ok": "green",
    "closed": "green",
    "error": "red",
    "timeout": "red",
    "failed": "red",
    "open": "red",
    "invalid_arguments": "red",
    "round_limit": "red",
    "budget_exceeded": "red",
    "stalled": "red",
    "deadline_exceeded": "red",
    "degraded": "yellow",
    "half_open": "yellow",
    "waiting": "yellow",
    "needs_human": "yellow",
    "cancelled": "yellow",
}


def styled(outcome: str) -> Text:
    """A status or outcome in its colour: failures red, stand-ins and waits yellow."""
    from rich.text import Text

    return Text(outcome, _OUTCOME_STYLES.get(outcome, ""))


def usage_line(cost: float | None, tokens_in: int | None, tokens_out: int | None) -> str:
    """``  tokens 812→96  cost 0.0021`` for what is known."""
    shown = ""
    if tokens_in is not None or tokens_out is not None:
        shown += f"  tokens {tokens_in or 0}→{tokens_out or 0}"
    if cost is not None:
        shown += f"  cost {cost:.4f}"
    return shown


def duration(milliseconds: float) -> str:
    """``812 ms``, ``1.25 s``, ``3m 05s`` or ``2h 01m``."""
    if milliseconds < 1000:
        return f"{milliseconds:.0f} ms"
    seconds = milliseconds / 1000
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, seconds = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    return f"{minutes // 60}h {minutes % 60:02d}m"


def preview(output: Any, length: int = 80) -> str:
    """``output`` on one line (JSON unless text), cut to ``length`` characters."""
    text = (
        output if isinstance(output, str) else json.dumps(output, ensure_ascii=False, default=str)
    )
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1] + "…"
