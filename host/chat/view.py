"""How a chat turn shows on the terminal (rich): a live line per running step, a line per
finished step, the answer, and a one-line summary; in ``/chat``, the streamed reply and a
line per tool call.

:class:`TurnView` is a :mod:`host.progress` listener. While a run executes, each
running step has a status line (function, route and model, attempt, elapsed
time, what last happened), and under it the text its model is writing when the
model streams it (the embedded one does), redrawn by a ticker on the event loop,
so a turn that ends within one tick draws nothing live; each finished step leaves
a line above.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.text import Text

from host.progress import CallStarted, Planned, Progress, StepEvent, StepFinished, StepText
from host.run_view import duration, preview, styled, usage_line
from host.state import RunResult, spent

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
    from rich.live import Live

    from host.chat.direct import DirectReply, ToolCallShown
    from host.plans import Plan
    from host.state import StepRecord

TICK = 0.1
"""Seconds between redraws of the running steps' lines."""

WRITTEN = 200
"""How much of the text a running step's model is writing its live lines keep (the end)."""

_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_ONE_LINE_EACH = Text("\n", no_wrap=True, overflow="ellipsis")
"""Joins lines that are each cut at the terminal's edge rather than wrapped."""
_MARKDOWN = re.compile(r"^(?:#{1,6} |[-*+] |\d+\. |> |```)|\*\*|`|\[[^\]\n]+\]\(", re.MULTILINE)
"""Text that reads as Markdown: a heading, list, quote, fence, emphasis, code or link."""
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""Characters a terminal acts on (escape sequences, bells...): all controls but tab and newline."""


def printable(text: str) -> str:
    """``text`` without the control characters a terminal would act on: what a model or a
    function wrote must not move the cursor, clear the screen or recolour what follows."""
    return _CONTROL.sub("", text)


@dataclass(slots=True)
class _Running:
    """What a running step's line shows."""

    function: str
    model: str | None
    route_reason: str | None
    started: float
    attempt: int = 1
    note: str = ""
    text: str = ""
    """The end of the text its model is writing (:data:`WRITTEN` characters at most)."""


class TurnView:
    """The live lines of one turn; give it to :func:`host.progress.watching`.

    Use it as ``with TurnView(console) as view:`` around the run, on the event loop.
    Finished steps' lines are printed together on each tick; those left at the end are
    in :attr:`lines` for the caller to print with the answer. The live area starts on
    the first tick that finds a step running, so a turn that ends within a tick
    prints nothing itself. It keeps the plan it was told of (:attr:`plan`).
    """

    def __init__(self, console: Console) -> None:
        self._console = console
        self._running: dict[str, _Running] = {}
        self.lines: list[Text] = []
        """Lines of the plan and of finished steps, not printed yet."""
        self._live: Live | None = None
        self._tick: asyncio.TimerHandle | None = None
        self.plan: tuple[Plan, str] | None = None
        """The run's plan and the planner that made it, once planned."""

    def __enter__(self) -> TurnView:
        self._tick = asyncio.get_running_loop().call_later(TICK, self._redraw)
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._tick is not None
        self._tick.cancel()
        self._running.clear()
        if self._live is not None:
            self._live.stop()

    def _redraw(self) -> None:
        """Print the lines finished since the last tick, redraw the running steps."""
        self._tick = asyncio.get_running_loop().call_later(TICK, self._redraw)
        if self.lines:
            lines, self.lines = self.lines, []
            self._console.print(Group(*lines))
        if self._running:
            if self._live is None:
                from rich.live import Live

                self._live = Live(self, console=self._console, auto_refresh=False, transient=True)
                self._live.start()
            self._live.refresh()

    def __call__(self, event: Progress) -> None:
        """Take one progress event (see :mod:`host.progress`)."""
        if isinstance(event, StepText):
            running = self._running.get(event.step_id)
            if running is not None:
                running.text = (running.text + printable(event.text))[-WRITTEN:]
        elif isinstance(event, StepEvent):
            self._step_event(event)
        elif isinstance(event, CallStarted):
            running = self._running.get(event.step_id)
            if running is None:
                self._running[event.step_id] = _Running(
                    event.function, event.model, event.route_reason, time.monotonic()
                )
            else:  # a validation retry, judge or alternative of the same step
                running.function, running.model = event.function, event.model
                running.route_reason, running.text = event.route_reason, ""
        elif isinstance(event, StepFinished):
            self._running.pop(event.record.step_id, None)
            self.lines.append(step_line(event.record))
        elif isinstance(event, Planned):
            self.plan = (event.plan, event.source)
            outline = " → ".join(f"{step.id} {step.function}" for step in event.plan.steps)
            self.lines.append(
                Text(f"plan ({event.source}): {outline}", "dim", no_wrap=True, overflow="ellipsis")
            )

    def _step_event(self, event: StepEvent) -> None:
        running = self._running.get(event.step_id)
        if running is None:
            return
        happened = event.event
        if happened.kind == "attempt":
            if happened.outcome != "ok":
                running.attempt = (happened.attempt or running.attempt) + 1
                running.note = f"attempt {happened.attempt} {happened.outcome}"
        elif happened.kind == "fallback":
            running.note = f"fallback → {happened.target} {happened.outcome}"
        else:
            running.note = f"{happened.kind.replace('_', ' ')} {happened.target} {happened.outcome}"

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        """The running steps' lines (rich asks on each redraw)."""
        now = time.monotonic()
        frame = _SPINNER[int(now / TICK) % len(_SPINNER)]
        lines = []
        for step_id, running in self._running.items():
            line = Text.assemble(
                (f"{frame} ", "cyan"),
                (step_id, "bold"),
                f"  {running.function}",
                f"  attempt {running.attempt}  {duration((now - running.started) * 1000)}",
                (f"  {running.note}", "dim") if running.note else "",
                _route(running.model, running.route_reason),
            )
            lines.append(line)
            if running.text:  # the end of what its model has written so far, on one line
                written = " ".join(running.text.split())[-max(options.max_width - 4, 1) :]
                lines.append(Text(f"  {written}", "dim"))
        yield _ONE_LINE_EACH.join(lines)


def step_line(record: StepRecord) -> Text:
    """A finished step: outcome mark, id, function, attempts, latency, usage, what stood in
    or failed, then the route (the longest part, cut first at the terminal's edge)."""
    failed = record.status == "failed"
    last = record.events[-1] if record.events else None
    asking = last is not None and last.kind == "on_fail" and last.outcome == "waiting"
    mark = ("✗ ", "red") if failed else ("? ", "yellow") if asking else ("✓ ", "green")
    attempts = f"  {record.attempts} attempts" if record.attempts > 1 else ""
    return Text.assemble(
        mark,
        (record.step_id, "bold red" if failed else "bold"),
        f"  {record.function}{attempts}  {duration(record.latency_ms)}",
        usage_line(record.cost, record.tokens_in, record.tokens_out),
        ("  cache hit", "cyan") if record.cache_hit else "",
        ("  degraded", "yellow") if record.degraded else "",
        ("  asks a person", "yellow") if asking else "",
        (f"  {record.error_type}: {printable(str(record.error))}", "red") if failed else "",
        _route(record.model, record.route_reason),
        no_wrap=True,
        overflow="ellipsis",
    )


def _route(model: str | None, reason: str | None) -> Text | str:
    if model is None:
        return ""
    return Text.assemble(f"  → {model}", (f" ({reason})" if reason else "", "dim"))


def summary(result: RunResult, elapsed_ms: float) -> Text:
    """One line: status, steps, latency, tokens, cost, and whether any output is a stand-in."""
    records = (*result.planning, *result.steps, *result.compensations)
    usage = usage_line(
        spent(records, "cost"), spent(records, "tokens_in"), spent(records, "tokens_out")
    ).replace("  ", " · ")
    return Text.assemble(
        styled(result.status),
        f" · {len(result.steps)} step{'s' * (len(result.steps) != 1)} · {duration(elapsed_ms)}",
        usage,
        (" · degraded", "yellow") if result.degraded else " · not degraded",
        style="dim",
    )


def answer(output: Any) -> RenderableType:
    """An answer: Markdown when it reads as Markdown, JSON for data, else the text."""
    if isinstance(output, str):
        output = printable(output)
        if _MARKDOWN.search(output):
            from rich.markdown import Markdown

            return Markdown(output)
        return Text(output)
    from rich.json import JSON

    return JSON(json.dumps(output, ensure_ascii=False, default=str))


def tool_call_line(call: ToolCallShown) -> Text:
    """A direct chat's tool call: function, arguments, result (or why it did not run), latency."""
    given = ", ".join(f"{name}={preview(value, 40)}" for name, value in call.arguments.items())
    return Text.assemble(
        ("⚙ ", "cyan"),
        (call.function, "bold"),
        f"({given}) → ",
        (printable(preview(call.result)), "" if call.ran else "yellow"),
        f"  {duration(call.latency_ms)}" if call.ran else "  (not run)",
        no_wrap=True,
        overflow="ellipsis",
    )


def direct_summary(reply: DirectReply, elapsed_ms: float) -> Text:
    """One line after a direct reply: model, tool calls, latency, tokens, cost, the cap."""
    calls = f" · {reply.tool_calls} tool call{'s' * (reply.tool_calls != 1)}"
    return Text.assemble(
        f"{reply.model}{calls if reply.tools_offered else ' · no tools'}",
        f" · {duration(elapsed_ms)}",
        usage_line(reply.cost, reply.tokens_in, reply.tokens_out).replace("  ", " · "),
        (" · tool call limit reached", "yellow") if reply.capped else "",
        style="dim",
    )


class ReplyStream:
    """A direct reply as it arrives: its text on ``console`` at once, each tool call as a
    line (on stderr when not ``live``, so stdout holds only replies)."""

    def __init__(self, console: Console, live: bool) -> None:
        self._console, self._live = console, live
        self._open = False
        """Whether the last text written left a line open."""

    def text(self, chunk: str) -> None:
        if self._live:
            chunk = printable(chunk)
        self._console.file.write(chunk)
        self._console.file.flush()
        self._open = not chunk.endswith("\n")

    def tool_call(self, call: ToolCallShown) -> None:
        self.end()
        line = tool_call_line(call)
        if self._live:
            self._console.print(line)
        else:
            print(line.plain, file=sys.stderr, flush=True)

    def end(self) -> None:
        """End the open line, if any."""
        if self._open:
            self._console.file.write("\n")
            self._open = False
