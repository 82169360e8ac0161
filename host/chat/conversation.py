"""What each line of a chat does, for the terminal REPL and the stdin loop alike.

A request is planned and executed by the host (:meth:`host.AgentHost.run`) with
the session's earlier results as ``history``; in ``/chat`` mode it goes to the
model directly (:mod:`host.chat.direct`); a slash command is done by
:mod:`host.chat.slash`. An error prints one line and the chat goes on; a turn
cancelled by Ctrl-C is reported and the session kept.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from rich.console import Group
from rich.text import Text

from host.chat import view
from host.chat.commands import Command, CommandError, parse
from host.chat.sessions import Sessions, Turn, TurnKind
from host.errors import AgentHostError, describe_error
from host.progress import Planned, Progress, watching
from host.sqlite_store import storable
from host.state import RunResult, RunStatus, spent

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

    from host.api import AgentHost
    from host.chat.direct import DirectChat
    from host.models.services import ModelServices
    from host.plans import Plan

_log = logging.getLogger("agent_host")

HISTORY = 20
"""How many earlier results of the session planning is given (newest kept)."""

Ask = Callable[[str], Awaitable[str | None]]
"""Puts a hand-off's question to the person; ``None`` or blank leaves the run waiting."""

T = TypeVar("T")

_CANCELLED = Text.assemble(("cancelled", "yellow"), " (the session goes on)")


class _StartCancelled(Exception):
    """Ctrl-C while a line waited for the host to start: the line is dropped."""


class Chat:
    """One chat: its host, its session, and what the next line does.

    ``live`` is the terminal's way (live step lines, Markdown answers, summaries,
    :meth:`interrupt` cancelling a turn); otherwise answers are printed plain on stdout
    and errors on stderr.
    """

    def __init__(
        self,
        host: AgentHost,
        sessions: Sessions,
        console: Console,
        *,
        session_id: str,
        live: bool,
        max_tool_calls: int,
        model: str | None = None,
    ) -> None:
        self.host, self.sessions, self.console = host, sessions, console
        self.session_id = session_id
        self.live = live
        self.model = model
        """The model every step is pinned to (``/model``); ``None``: routed by capability."""
        self.direct = False
        """Whether lines go to the model directly (``/chat``)."""
        self.ask: Ask | None = None
        """Asks a hand-off's question (the REPL's); without it a run is left waiting."""
        self.starting: asyncio.Future[None] | None = None
        """The host's start under way in a thread (the REPL's), which any use of the host
        waits for; a failed start ends the chat (:meth:`line` raises its error)."""
        self.plan: tuple[Plan, str] | None = None
        """The last plan of the session and the planner that made it (``/plan``)."""
        self.last_run: str | None = None
        """The id of the session's last run (``/trace``)."""
        self.errors = 0
        """How many lines ended in an error."""
        self._max_tool_calls = max_tool_calls
        self._read = False
        self._history: deque[RunResult] = deque(maxlen=HISTORY)
        self._exchanges: list[tuple[str, str]] = []
        """Direct exchanges of a continued session, for the direct chat once made."""
        self._direct: DirectChat | None = None
        self._running: asyncio.Future[Any] | None = None
        """The turn under way, which :meth:`interrupt` cancels."""
        self._pending: list[RenderableType] = []
        """Lines of the running turn not printed yet (see :meth:`_flush`)."""

    @property
    def prompt(self) -> str:
        """The prompt: ``> ``, after ``chat`` in ``/chat`` mode and any pinned model."""
        pinned = f"[{self.model}] " if self.model else ""
        return f"{pinned}{'chat' if self.direct else ''}> "

    def start(self) -> None:
        """Start the host (config, models, plugins) and check the pinned model; the REPL
        runs this in a thread while the prompt is up."""
        self.host.start()
        if self.model is not None:
            self.check_model(self.model)

    async def started(self) -> AgentHost:
        """The host, once started, with a continued session's turns read back. Waiting for
        the start, the line is a turn :meth:`interrupt` cancels (:class:`_StartCancelled`)."""
        starting = self.starting
        if starting is not None and not starting.done():
            await self._cancellable(asyncio.shield(starting))  # the start goes on regardless
            if not starting.done():
                raise _StartCancelled
        if starting is not None:
            starting.result()
        if not self._read:
            self._read = True
            self._read_back(self.sessions.turns(self.session_id))
        return self.host

    def _read_back(self, turns: list[Turn]) -> None:
        """Earlier turns of this session: results for planning, exchanges for ``/chat``."""
        store = self.host.run_store
        for turn in turns:
            if turn.kind == "chat":
                self._exchanges.append((turn.request, str(turn.answer or "")))
            elif turn.kind == "run" and turn.run_id is not None and turn.status != "cancelled":
                recorded = store.get(turn.run_id)
                steps, plan = (recorded.steps, recorded.plan) if recorded else ((), None)
                status = cast("RunStatus", turn.status)
                self._history.append(
                    RunResult(turn.run_id, turn.request, status, turn.answer, steps, plan=plan)
                )
                self.last_run = turn.run_id

    def services(self) -> ModelServices:
        """The host's configured models (the host started)."""
        return self.host.models.services

    def check_model(self, model: str) -> str:
        """``model`` if it is configured, else :class:`~host.errors.ConfigError` naming
        the configured ones."""
        return self.host.models.configured(model)

    async def line(self, text: str) -> bool:
        """Answer one line; ``False`` when the chat should end. Raises the start's error
        when the host failed to start."""
        from host.chat.slash import run_command

        try:
            parsed = parse(storable(text))
            if isinstance(parsed, Command):
                return await run_command(self, parsed)
            if parsed is not None and self.direct:
                await self.direct_turn(parsed)
            elif parsed is not None:
                await self._request(parsed)
        except _StartCancelled:
            self._flush(_CANCELLED)
        except Exception as error:
            if self._start_failed():
                raise  # no host to go on with
            if isinstance(error, AgentHostError | CommandError):
                self._error(str(error))
            else:  # a bug must not end the session; --debug shows where
                _log.debug("chat line failed", exc_info=True)
                self._error(describe_error(error))
        return True

    def _start_failed(self) -> bool:
        starting = self.starting
        return (
            starting is not None
            and starting.done()
            and not starting.cancelled()
            and starting.exception() is not None
        )

    def new_session(self) -> None:
        """Start a new session (``/new``): no history, no exchanges, no last plan."""
        self.session_id = Sessions.new_id()
        self._history.clear()
        self._exchanges.clear()
        if self._direct is not None:
            self._direct.forget()
        self.plan = self.last_run = None

    def interrupt(self) -> None:
        """Cancel the running turn, if any (the REPL's Ctrl-C)."""
        if self._running is not None:
            self._running.cancel()

    async def _request(self, text: str) -> None:
        host = await self.started()
        history = tuple(self._history)
        work = host.run(text, model=self.model, history=history)
        result = await self._ran("run", text, text, work)
        if result is not None:
            self._history.append(result)

    async def team(self, file: str, task: str) -> None:
        """Run the team of ``file`` on ``task`` (``/team``), its turns shown live; it is a
        turn of the session, not history for planning follow-ups."""
        host = await self.started()
        await self._ran("team", f"{file} {task}", task, host.run_team(file, task))

    async def _ran(
        self, kind: TurnKind, said: str, request: str, work: Awaitable[RunResult]
    ) -> RunResult | None:
        """``work``, a run of ``request`` (``said`` in the session), as a turn: shown live,
        its hand-offs asked inline, stored in the session; ``None`` when cancelled."""
        begun = time.monotonic()
        result = await self._turn(work)
        if result is None:
            cancelled = Turn(kind, said, "cancelled", run_id=self._cancelled(request))
            self.sessions.add(self.session_id, cancelled)
            return None
        result = await self._answered(result)
        if result is not None:
            self.sessions.add(self.session_id, _turn_of(kind, said, result))
            self._show(result, begun)
        return result

    async def resume(self, run_id: str, answer: str) -> None:
        """Answer the waiting run ``run_id`` (``/resume``) and show how it ends; its turn
        in this session is updated (or added, for a run of another session)."""
        begun = time.monotonic()
        result = await self._turn(self.host.resume(run_id, answer))
        result = None if result is None else await self._answered(result)
        if result is not None:
            turn = _turn_of("run", result.request, result)
            if not self.sessions.replace(self.session_id, turn):
                self.sessions.add(self.session_id, turn)
            self._show(result, begun)

    async def _turn(self, work: Awaitable[RunResult]) -> RunResult | None:
        """``work`` with its progress shown live (on a terminal); ``None`` when
        :meth:`interrupt` cancelled it."""
        if not self.live:
            with watching(self._planned):  # for /plan
                return await work
        turn_view = view.TurnView(self.console)
        try:
            result = await self._cancellable(_watched(work, turn_view))
        finally:  # on an error too: its line comes after them (see _error)
            self._pending.extend(turn_view.lines)
        if turn_view.plan is not None:
            self.plan = turn_view.plan
        if result is None:
            self._flush(_CANCELLED)
        return result

    def _planned(self, event: Progress) -> None:
        if isinstance(event, Planned):
            self.plan = (event.plan, event.source)

    async def _cancellable(self, work: Awaitable[T]) -> T | None:
        """Await ``work`` as the turn :meth:`interrupt` cancels; ``None`` when it did. It has
        ended either way (cancelling the caller cancels it too)."""
        task: asyncio.Future[T] = asyncio.ensure_future(work)
        self._running = task
        try:
            return await task
        except asyncio.CancelledError:
            if task.cancelled() and not _cancelling():
                return None
            raise
        finally:
            self._running = None

    async def _answered(self, result: RunResult) -> RunResult | None:
        """Ask each hand-off's question inline and resume with the answer; a blank answer
        leaves the run waiting. ``None`` when a resume was cancelled."""
        while result.status == "needs_human" and self.ask is not None:
            self.last_run = result.run_id
            self._flush()
            answer = await self.ask(result.question or "What should the step's output be?")
            if not answer or not answer.strip():
                break
            resumed = await self._turn(self.host.resume(result.run_id, storable(answer.strip())))
            if resumed is None:
                return None
            result = resumed
        return result

    def _cancelled(self, request: str) -> str | None:
        """The id of the run just cancelled: the newest recorded, if it is that one."""
        store = self.host.run_store
        store.flush()
        last = store.last()
        if last is not None and last.status == "cancelled" and last.request == request:
            self.last_run = last.run_id
            return last.run_id
        return None

    def _show(self, result: RunResult, begun: float) -> None:
        """The answer (or why there is none), then the summary line."""
        self.last_run = result.run_id
        if result.status not in ("ok", "needs_human"):
            self.errors += 1
        if not self.live:
            if result.status == "ok":
                print(_plain(result.output), flush=True)
            elif result.status == "needs_human":
                waiting = f"needs a person: {result.question}"
                print(f"{waiting} (answer: /resume {result.run_id} ANSWER)", file=sys.stderr)
            else:
                print(f"error: {result.error or result.status}", file=sys.stderr)
            return
        if result.status == "ok":
            shown: RenderableType = view.answer(result.output)
        elif result.status == "needs_human":
            shown = Text.assemble(
                (f"waiting for a person: {result.question}", "yellow"),
                (f" (later: /resume {result.run_id} ANSWER)", "dim"),
            )
        else:
            shown = Text(f"error: {view.printable(result.error or result.status)}", "red")
        self._flush(shown, view.summary(result, (time.monotonic() - begun) * 1000))

    def _flush(self, *more: RenderableType) -> None:
        """Print the turn's lines not printed yet and ``more`` in one go: each rich print
        costs more than a native step does."""
        shown, self._pending = [*self._pending, *more], []
        if shown:
            self.console.print(Group(*shown))

    def _error(self, message: str) -> None:
        """``error: message``, one line (on stderr without a terminal)."""
        self.errors += 1
        if self.live:  # after the lines of the turn it ended, if any
            self._flush(Text(f"error: {view.printable(message)}", "red"))
        else:
            print(f"error: {message}", file=sys.stderr, flush=True)

    async def direct_turn(self, text: str) -> None:
        """Send ``text`` to the model directly (``/chat``), its reply streamed."""
        host = await self.started()
        direct = self._direct_chat(host)
        model = self.model or self.services().default
        begun = time.monotonic()
        stream = view.ReplyStream(self.console, self.live)
        try:
            reply = await self._cancellable(direct.send(text, model, stream))
        finally:  # a reply that failed half-way leaves no line open for the error
            stream.end()
        if reply is None:
            self._flush(_CANCELLED)
            self.sessions.add(self.session_id, Turn("chat", text, "cancelled"))
            return
        tokens = (reply.tokens_in, reply.tokens_out, reply.cost)
        self.sessions.add(self.session_id, Turn("chat", text, "ok", reply.text, None, *tokens))
        if self.live:
            self.console.print(view.direct_summary(reply, (time.monotonic() - begun) * 1000))

    def _direct_chat(self, host: AgentHost) -> DirectChat:
        if self._direct is None:
            from host.chat.direct import DirectChat

            self._direct = DirectChat(host.kernel, self.services(), self._max_tool_calls)
            for request, reply in self._exchanges:
                self._direct.remember(request, reply)
        return self._direct


def _cancelling() -> bool:
    """Whether the running task itself is being cancelled."""
    running = asyncio.current_task()
    return running is not None and running.cancelling() > 0


async def _watched(work: Awaitable[RunResult], turn_view: view.TurnView) -> RunResult:
    with turn_view, watching(turn_view):
        return await work


def _turn_of(kind: TurnKind, request: str, result: RunResult) -> Turn:
    records = (*result.planning, *result.steps, *result.compensations)
    return Turn(
        kind,
        request,
        result.status,
        result.output,
        result.run_id,
        spent(records, "tokens_in"),
        spent(records, "tokens_out"),
        spent(records, "cost"),
    )


def _plain(output: Any) -> str:
    return (
        output if isinstance(output, str) else json.dumps(output, ensure_ascii=False, default=str)
    )
