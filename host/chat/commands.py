"""A chat line read as a slash command or a request.

``parse("/trace 3f2a91")`` is ``Command("trace", ("3f2a91",))``; any line not
starting with ``/`` is a request, given as its text. A command's last argument
takes the rest of the line (``/resume ID the answer, with spaces``). An unknown
command or a wrong number of arguments raises :class:`CommandError`, whose
message names the command and its usage.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """A slash command: how it is written and what it does."""

    name: str
    arguments: tuple[str, ...]
    """Argument names, in order; one in brackets (``[NAME]``) may be left out."""
    summary: str

    @property
    def usage(self) -> str:
        """``/resume RUN_ID ANSWER``."""
        return " ".join((f"/{self.name}", *self.arguments))

    @property
    def required(self) -> int:
        """How many arguments must be given."""
        return sum(not name.startswith("[") for name in self.arguments)


COMMANDS = {
    spec.name: spec
    for spec in (
        CommandSpec("help", (), "this list, and the keys"),
        CommandSpec("functions", (), "every loaded function: name, kind, description"),
        CommandSpec("plan", (), "the plan of the last request"),
        CommandSpec("trace", ("[RUN_ID]",), "a recorded run as a tree (default: the last)"),
        CommandSpec("runs", (), "the newest recorded runs"),
        CommandSpec(
            "model", ("[NAME]",), "show the models, or pin NAME for every step (auto: routing)"
        ),
        CommandSpec("usage", (), "tokens and cost of this session"),
        CommandSpec("resume", ("RUN_ID", "ANSWER"), "answer a run that waits for a person"),
        CommandSpec("team", ("FILE", "TASK"), "run a team of agents (a teams/*.yaml file) on TASK"),
        CommandSpec(
            "chat", ("[MESSAGE]",), "talk to the model directly, functions as its tools (toggle)"
        ),
        CommandSpec("new", (), "start a new session"),
        CommandSpec("sessions", (), "the newest sessions"),
        CommandSpec("exit", (), "leave (Ctrl-D too)"),
    )
}
"""Every slash command, in the order ``/help`` lists them."""


@dataclass(frozen=True, slots=True)
class Command:
    """A parsed slash command: its name and the arguments given."""

    name: str
    arguments: tuple[str, ...] = ()

    def argument(self, index: int) -> str | None:
        """The argument at ``index``, if given."""
        return self.arguments[index] if index < len(self.arguments) else None


class CommandError(ValueError):
    """A slash command that does not exist or is given the wrong arguments."""


def parse(line: str) -> Command | str | None:
    """``line`` as a :class:`Command`, a request (its text, stripped), or ``None`` when blank."""
    text = line.strip()
    if not text:
        return None
    if not text.startswith("/"):
        return text
    name, _, rest = text[1:].partition(" ")
    spec = COMMANDS.get(name)
    if spec is None:
        shown = f"/{name}" if name else "/"
        raise CommandError(f"unknown command {shown} (/help lists the commands)")
    most = len(spec.arguments)
    arguments = tuple(rest.split(maxsplit=most - 1)) if most else ()
    if most == 0 and rest.strip():
        raise CommandError(f"/{name} takes no arguments (usage: {spec.usage})")
    if len(arguments) < spec.required:
        raise CommandError(f"/{name} needs {' '.join(spec.arguments)} (usage: {spec.usage})")
    return Command(name, arguments)


def complete(prefix: str) -> list[str]:
    """The slash commands that start with ``prefix`` (which starts with ``/``)."""
    return [f"/{name}" for name in COMMANDS if f"/{name}".startswith(prefix)]
