"""What each slash command does in a chat (:data:`host.chat.commands.COMMANDS` lists them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from host.chat import tables
from host.chat.commands import Command, CommandError

if TYPE_CHECKING:
    from host.chat.conversation import Chat


async def run_command(chat: Chat, command: Command) -> bool:
    """Do ``command`` in ``chat``; ``False`` when the chat should end. A bad argument
    raises :class:`CommandError` (or the host's error), which the chat prints."""
    name, console = command.name, chat.console
    if name == "exit":
        return False
    if name == "help":
        console.print(tables.help_table())
    elif name == "new":
        chat.new_session()
        console.print(f"new session {chat.session_id}")
    elif name == "sessions":
        sessions = chat.sessions.recent()
        if sessions:
            console.print(tables.sessions_table(sessions, chat.session_id))
        else:
            console.print("no session is stored yet")
    elif name == "usage":
        console.print(_usage(chat))
    elif name == "chat":
        await _chat(chat, command.argument(0))
    else:
        await _host_command(chat, command)
    return True


async def _host_command(chat: Chat, command: Command) -> None:
    """The commands that need the started host."""
    host, name, console = await chat.started(), command.name, chat.console
    if name == "functions":
        console.print(tables.functions_table(host.catalogue))
    elif name == "plan":
        if chat.plan is None:
            console.print("no plan yet in this session")
        else:
            console.print(tables.plan_tree(*chat.plan))
    elif name == "trace":
        _trace(chat, command.argument(0) or chat.last_run)
    elif name == "runs":
        from host.run_view import runs_table

        host.run_store.flush()
        runs = host.run_store.runs(limit=10)
        console.print(runs_table(runs) if runs else "no run recorded yet")
    elif name == "model":
        _model(chat, command.argument(0))
    elif name == "resume":
        run_id, answer = command.arguments
        await chat.resume(_run_id(chat, run_id), answer)
    elif name == "team":
        file, task = command.arguments
        await chat.team(file, task)


def _trace(chat: Chat, run_id: str | None) -> None:
    from host.run_view import headline, run_tree

    if run_id is None:
        raise CommandError("no run yet in this session (usage: /trace [RUN_ID])")
    store = chat.host.run_store
    store.flush()
    run = store.get(run_id)
    if run is None:
        raise CommandError(
            f"no recorded run {run_id!r} (give a run id or its first 6 or more characters; "
            "/runs lists them)"
        )
    why = headline(run)
    if why is not None:
        chat.console.print(why, soft_wrap=True)
    chat.console.print(run_tree(run))


def _model(chat: Chat, name: str | None) -> None:
    """Show the models, or pin one (``auto``: route by capability again, unless a
    configured model is called that)."""
    services = chat.services()
    if name is None:
        chat.console.print(tables.models_table(services, chat.model))
    elif name == "auto" and "auto" not in services.names():
        chat.model = None
    else:
        chat.model = chat.check_model(name)
    chat.console.print(tables.routing(chat.model))


def _run_id(chat: Chat, given: str) -> str:
    """A run id, or the first characters of exactly one of this session's runs."""
    known = {turn.run_id for turn in chat.sessions.turns(chat.session_id) if turn.run_id}
    matches = [run_id for run_id in known if run_id.startswith(given)]
    return matches[0] if len(matches) == 1 else given


async def _chat(chat: Chat, message: str | None) -> None:
    """``/chat MESSAGE`` sends one message directly; ``/chat`` switches the mode."""
    if message is not None:
        await chat.direct_turn(message)
        return
    chat.direct = not chat.direct
    if not chat.direct:
        chat.console.print("each line is planned and executed again")
        return
    await chat.started()
    model = chat.model or chat.services().default
    if chat.services().get(model).SUPPORTS_FUNCTION_CALLING:
        told = f"lines go to {model} directly, the loaded functions as its tools"
    else:
        told = (
            f"lines go to {model} directly; it cannot call tools, so it answers without the "
            "loaded functions (pin a tool-calling model with /model NAME)"
        )
    chat.console.print(f"{told} (/chat again to plan and execute)")


def _usage(chat: Chat) -> Text:
    """``/usage``: the session's turns, tokens and cost."""
    turns = chat.sessions.turns(chat.session_id)
    tokens_in = sum(turn.tokens_in or 0 for turn in turns)
    tokens_out = sum(turn.tokens_out or 0 for turn in turns)
    costs = [turn.cost for turn in turns if turn.cost is not None]
    return Text(
        f"session {chat.session_id}: {len(turns)} turn{'s' * (len(turns) != 1)}"
        f" · tokens {tokens_in}→{tokens_out} · cost {f'{sum(costs):.4f}' if costs else '-'}"
    )
