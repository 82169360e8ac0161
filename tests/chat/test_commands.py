"""A chat line read as a slash command or a request."""

from __future__ import annotations

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from host.chat.commands import COMMANDS, Command, CommandError, parse
from host.chat.repl import ChatCompleter


@pytest.mark.parametrize(
    ("line", "parsed"),
    [
        ("", None),
        ("   \t ", None),
        ("greet Alice", "greet Alice"),
        ("  now the same for Beijing  ", "now the same for Beijing"),
        ("/help", Command("help")),
        ("  /runs  ", Command("runs")),
        ("/trace", Command("trace")),
        ("/trace 3f2a91", Command("trace", ("3f2a91",))),
        ("/model writer", Command("model", ("writer",))),
        ("/resume 3f2a91 Iced tea at 18°C!", Command("resume", ("3f2a91", "Iced tea at 18°C!"))),
        ("/resume   3f2a91    two  spaces", Command("resume", ("3f2a91", "two  spaces"))),
        ("/chat", Command("chat")),
        ("/chat what can you do?", Command("chat", ("what can you do?",))),
    ],
)
def test_a_line_is_a_request_a_command_or_nothing(line: str, parsed: Command | str | None) -> None:
    assert parse(line) == parsed


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("/bogus", "unknown command /bogus (/help lists the commands)"),
        ("/", "unknown command / (/help lists the commands)"),
        ("/Help", "unknown command /Help (/help lists the commands)"),
        ("/runs 5", "/runs takes no arguments (usage: /runs)"),
        ("/exit now", "/exit takes no arguments (usage: /exit)"),
        ("/resume", "/resume needs RUN_ID ANSWER (usage: /resume RUN_ID ANSWER)"),
        ("/resume 3f2a91", "/resume needs RUN_ID ANSWER (usage: /resume RUN_ID ANSWER)"),
    ],
)
def test_a_bad_command_names_itself_and_its_usage(line: str, message: str) -> None:
    with pytest.raises(CommandError) as raised:
        parse(line)
    assert str(raised.value) == message


def test_every_command_of_the_issue_is_there() -> None:
    wanted = "help functions plan trace runs model usage resume new sessions exit chat team"
    assert set(COMMANDS) == set(wanted.split())


def completions(line: str) -> list[str]:
    completer = ChatCompleter(
        functions=lambda: ["weather.daily_temperatures", "weather.resolve_date", "talk.Echo"],
        models=lambda: ["auto", "local", "writer"],
    )
    found = completer.get_completions(Document(line), CompleteEvent(completion_requested=True))
    return [completion.text for completion in found]


@pytest.mark.parametrize(
    ("line", "offered"),
    [
        ("/r", ["/runs", "/resume"]),
        ("/se", ["/sessions"]),
        ("/model w", ["writer"]),
        ("/model ", ["auto", "local", "writer"]),
        ("check weather.d", ["weather.daily_temperatures"]),
        ("check weather.", ["weather.daily_temperatures", "weather.resolve_date"]),
        ("check the", []),
    ],
)
def test_tab_offers_commands_models_and_function_names(line: str, offered: list[str]) -> None:
    assert completions(line) == offered
