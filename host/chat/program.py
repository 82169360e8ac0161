"""``agent-host chat``: open the session, start the host, then talk on the terminal or read stdin.

On a terminal the prompt shows while the host starts in a thread (Semantic Kernel's
import and plugin loading take seconds); the first request waits for it. Without a
terminal, each line of stdin is a request (or a slash command) and each answer is
printed plain on stdout, everything else on stderr; the exit status is 1 when any
line ended in an error.
"""

from __future__ import annotations

import asyncio
import io
import sys
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from host.api import AgentHost, default_config_path, runs_database
from host.chat.conversation import Chat
from host.chat.sessions import Sessions
from host.config import load_config
from host.errors import InvalidArgumentsError

STATE_FOLDER = Path("~/.local/state/agent-host")
"""Where the input history goes when ``runs.database`` is not a file."""


@dataclass(frozen=True, slots=True)
class ChatOptions:
    """What ``agent-host chat`` was given."""

    config: str | None = None
    plugin_dirs: list[str] = field(default_factory=list)
    prompt_dirs: list[str] = field(default_factory=list)
    strict: bool = False
    continue_last: bool = False
    session: str | None = None
    model: str | None = None
    max_tool_calls: int = 8


def chat(options: ChatOptions) -> int:
    """Run the chat until Ctrl-D, ``/exit`` or the end of stdin; the exit status."""
    loaded = load_config(options.config or default_config_path())
    location = runs_database(loaded)
    sessions = Sessions(location)
    try:
        session_id, told = _session(sessions, options)
        host = AgentHost(
            loaded,
            plugin_dirs=options.plugin_dirs,
            prompt_dirs=options.prompt_dirs,
            strict=options.strict,
        )
        terminal = sys.stdin.isatty() and sys.stdout.isatty()
        talk = Chat(
            host,
            sessions,
            Console(highlight=False),
            session_id=session_id,
            live=terminal,
            max_tool_calls=options.max_tool_calls,
            model=options.model,
        )
        if not terminal:
            return asyncio.run(_piped(talk))
        folder = STATE_FOLDER.expanduser() if location == ":memory:" else Path(location).parent
        talk.console.print(
            f"agent-host chat · session {session_id} ({told}) · /help · Ctrl-D leaves"
        )
        return asyncio.run(_terminal(talk, folder / "chat-history"))
    finally:
        sessions.close()


def _session(sessions: Sessions, options: ChatOptions) -> tuple[str, str]:
    """The session to use and how to describe it: given, the last one, or new."""
    if options.session is not None:
        found = sessions.find(options.session)
        if found is None:
            raise InvalidArgumentsError(
                "chat",
                [f"--session {options.session!r}: no such session (/sessions lists them)"],
            )
        return found, f"continued, {len(sessions.turns(found))} turn(s)"
    last = sessions.last() if options.continue_last else None
    if last is not None:
        return last, f"continued, {len(sessions.turns(last))} turn(s)"
    return Sessions.new_id(), "new; no earlier session" if options.continue_last else "new"


async def _terminal(talk: Chat, history: Path) -> int:
    """The REPL, the host starting in a thread behind its first prompt."""
    from host.chat.repl import repl

    starting = asyncio.ensure_future(asyncio.to_thread(talk.start))
    talk.starting = starting
    try:
        return await repl(talk, history, starting)
    finally:
        await asyncio.wait({starting})  # a thread cannot be stopped: let the start finish
        await talk.host.close()


async def _piped(talk: Chat) -> int:
    """One line of stdin after another, until its end or ``/exit``."""
    talk.start()
    if isinstance(sys.stdin, io.TextIOWrapper):  # a line that is not UTF-8 is read, marked
        sys.stdin.reconfigure(errors="replace")
    try:
        while line := await asyncio.to_thread(sys.stdin.readline):
            if not await talk.line(line):
                break
    finally:
        await talk.host.close()
    return 1 if talk.errors else 0
