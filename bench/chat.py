"""Cost of the chat REPL: a turn against ``host.run`` of the same request, and start-up.

``chat_turn_overhead_ratio`` is the CPU time of one chat line (``Chat.line``: the
turn as a task of its own that Ctrl-C cancels, the live view told of every step,
the step lines, answer and summary drawn on a terminal console writing to
``/dev/null``, the turn stored in the session table of a real SQLite file) over
``host.run`` of the same request, alternated. The request is planned by the clause
planner into three steps, the last a prompt function on a scripted model that
answers at once, so the model's own time, which dwarfs the REPL's on any real
model, is left out. Runs are recorded on neither side (``run_store_overhead_ratio``
is that cost). It is the REPL's own CPU cost, which a turn that does nothing else
multiplies (about 0.8 ms over 0.5 ms): printed without a target. Issue #16's target
(≤ 1.1) is the added latency a person waits for, a turn of the main job on the
embedded model over ``host.run`` of it (:func:`embedded_turn_ratio`, with ``--model``).

``chat_start_ms`` is the wall time from spawning ``agent-host chat`` in a
pseudo-terminal to its first prompt; the host starts behind that prompt, and
``chat_first_answer_ms`` is the time until a request typed at that prompt is
answered (Semantic Kernel's import and the plugins' loading included).
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console

from bench.request import ANSWER, REQUEST, echo_models, project
from bench.timing import per_call_seconds, ratio
from host import AgentHost
from host.chat.conversation import Chat
from host.chat.sessions import Sessions

_PROMPT_STARTS = b"\x1b[?2004h"
"""What prompt_toolkit writes as a prompt starts."""


async def run(quick: bool) -> dict[str, float]:
    """``chat_turn_overhead_ratio`` (no target, see above) and what it adds in CPU microseconds
    (``chat_turn_added_cpu_us``), ``chat_start_ms``, ``chat_first_answer_ms``."""
    with project() as root:
        turn_ratio, direct_us = await _turn_ratio(root, quick)
        figures = {
            "chat_turn_overhead_ratio": turn_ratio,
            "chat_turn_added_cpu_us": (turn_ratio - 1) * direct_us,
        }
        starts = [_start(root) for _ in range(2 if quick else 5)]
    figures["chat_start_ms"] = statistics.median(start for start, _ in starts)
    figures["chat_first_answer_ms"] = statistics.median(answer for _, answer in starts)
    return figures


@contextlib.contextmanager
def _terminal_chat(host: AgentHost, database: Path) -> Iterator[Chat]:
    """A chat over ``host`` drawing on a terminal console that writes to ``/dev/null``,
    its session stored in ``database``."""
    with Path(os.devnull).open("w") as nowhere:
        console = Console(file=nowhere, force_terminal=True, width=120, highlight=False)
        sessions = Sessions(database)
        try:
            yield Chat(
                host, sessions, console, session_id=Sessions.new_id(), live=True, max_tool_calls=8
            )
        finally:
            sessions.close()


async def embedded_turn_ratio(host: AgentHost, request: str, database: Path, rounds: int) -> float:
    """Median over ``rounds`` of the wall time of a chat line of ``request`` over
    ``host.run`` of it, alternated: a turn as a person waits for it on the embedded model
    (``python -m bench --model``)."""
    with _terminal_chat(host, database) as chat:
        ratios = []
        for _ in range(rounds):
            started = time.perf_counter()
            await host.run(request)
            direct = time.perf_counter() - started
            started = time.perf_counter()
            await chat.line(request)
            ratios.append((time.perf_counter() - started) / direct)
    assert chat.errors == 0
    return statistics.median(ratios)


async def _turn_ratio(root: Path, quick: bool) -> tuple[float, float]:
    """The ratio, and the CPU microseconds of ``host.run`` alone it multiplies."""
    async with AgentHost(root / "host.yaml", models=echo_models()) as host:
        with _terminal_chat(host, root / "runs.sqlite3") as chat:
            result = await host.run(REQUEST)
            assert result.status == "ok" and len(result.steps) == 3, result.error

            async def turn() -> object:
                return await chat.line(REQUEST)

            async def direct() -> object:
                return await host.run(REQUEST)

            calls, rounds = (50, 3) if quick else (200, 7)
            measured = await ratio(turn, direct, calls=calls, rounds=rounds)
            alone = await per_call_seconds(direct, calls)
    assert chat.errors == 0
    return measured, alone * 1e6


def _start(root: Path) -> tuple[float, float]:
    """Milliseconds from spawning ``agent-host chat`` to its first prompt, and to the
    answer of a request typed at that prompt."""
    import pexpect

    started = time.perf_counter()
    child = pexpect.spawn(
        str(Path(sys.executable).with_name("agent-host")),
        ["chat", "--config", str(root / "host.yaml")],
        env={**os.environ, "TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1"},
        dimensions=(40, 120),
        timeout=120,
    )
    child.expect_exact(_PROMPT_STARTS)
    prompted = time.perf_counter()
    child.send(REQUEST.encode() + b"\r")
    child.expect_exact(ANSWER.encode())
    answered = time.perf_counter()
    child.expect_exact(_PROMPT_STARTS)
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    child.close()
    return (prompted - started) * 1000, (answered - started) * 1000
