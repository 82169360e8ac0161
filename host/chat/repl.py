"""The terminal side of ``agent-host chat``: prompt_toolkit input around a :class:`Chat`.

Input history is kept in a file across sessions (its newest :data:`HISTORY_KEPT`
entries), searched with Ctrl-R; Tab completes slash commands, model names after
``/model`` and function names elsewhere; Alt-Enter (Esc, Enter) starts a new line.
Ctrl-C at the prompt clears the line (prompt_toolkit reads it as a key); during a
turn, its SIGINT cancels that turn only (:meth:`~host.chat.conversation.Chat.interrupt`).
Ctrl-D leaves.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory, InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from rich.text import Text

from host.chat.commands import complete

if TYPE_CHECKING:
    from host.chat.conversation import Chat

HISTORY_KEPT = 1000
"""How many entries the input history file keeps (the oldest are dropped on start)."""


class ChatCompleter(Completer):
    """Slash commands, then model names after ``/model``, else function names."""

    def __init__(
        self, functions: Callable[[], Iterable[str]], models: Callable[[], Iterable[str]]
    ) -> None:
        self._functions, self._models = functions, models

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterable[Completion]:
        text = document.text_before_cursor
        if text.startswith("/") and " " not in text:
            names: Iterable[str] = complete(text)
            word = text
        else:
            word = document.get_word_before_cursor(WORD=True)
            names = self._models() if text.startswith("/model ") else self._functions()
        for name in names:
            if name.startswith(word) and name != word:
                yield Completion(name, start_position=-len(word))


async def repl(chat: Chat, history: Path, starting: asyncio.Future[None]) -> int:
    """Read lines until Ctrl-D or ``/exit``; 0 then. A host that fails to start ends the
    chat with its error (raised)."""
    keys = KeyBindings()

    @keys.add("escape", "enter")
    def _new_line(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    def functions() -> Iterable[str]:
        return [info.name for info in chat.host.catalogue] if _started(starting) else ()

    def models() -> Iterable[str]:
        return ["auto", *chat.services().names()] if _started(starting) else ()

    prompt: PromptSession[str] = PromptSession(
        history=FileHistory(str(trim_history(history))),
        completer=ChatCompleter(functions, models),
        key_bindings=keys,
        prompt_continuation="… ",
    )
    answers: PromptSession[str] = PromptSession(history=InMemoryHistory())

    async def ask(question: str) -> str | None:
        chat.console.print(Text(f"? {question}", "yellow"))
        try:
            return await answers.prompt_async("answer> ")
        except (KeyboardInterrupt, EOFError):
            return None

    def failed(future: asyncio.Future[None]) -> None:
        error = None if future.cancelled() else future.exception()
        if error is not None and prompt.app.is_running:
            prompt.app.exit(exception=error)

    chat.ask = ask
    starting.add_done_callback(failed)
    loop = asyncio.get_running_loop()

    def interrupt(signum: int, frame: object) -> None:
        loop.call_soon_threadsafe(chat.interrupt)

    # A plain handler, not loop.add_signal_handler: prompt_toolkit adds and removes its
    # own loop handler around each prompt, which would drop ours, and restores the
    # plain handler it found.
    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        return await _read(chat, prompt, starting)
    finally:
        signal.signal(signal.SIGINT, previous)


async def _read(chat: Chat, prompt: PromptSession[str], starting: asyncio.Future[None]) -> int:
    while True:
        try:
            line = await prompt.prompt_async(chat.prompt)
        except KeyboardInterrupt:
            continue
        except EOFError:
            return 0
        if starting.done():
            starting.result()  # a failed start ends the chat with its error
        if not await chat.line(line):
            return 0


def _started(starting: asyncio.Future[None]) -> bool:
    return starting.done() and not starting.cancelled() and starting.exception() is None


def trim_history(path: Path) -> Path:
    """``path`` (a prompt_toolkit history file) cut to its newest :data:`HISTORY_KEPT`
    entries; its folder made if missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file():
        return path
    # Each entry is "\n# <time>\n" and its lines, each prefixed "+": only an entry's start
    # has "\n# ", and the file starts with one.
    entries = path.read_text(encoding="utf-8", errors="replace").split("\n# ")[1:]
    if len(entries) > HISTORY_KEPT:
        path.write_text("\n# " + "\n# ".join(entries[-HISTORY_KEPT:]), encoding="utf-8")
    return path
