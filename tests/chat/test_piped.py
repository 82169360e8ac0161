"""``agent-host chat`` without a terminal: a request per line of stdin, plain answers."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.chat.chat_kit import AGENT_HOST, QUESTION, environment, recorded_runs, write_config


def chat(tmp_path: Path, lines: str, *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "host.yaml"
    if not config.exists():
        write_config(tmp_path, replies=("**hello** there", "hi"))
    return subprocess.run(
        [str(AGENT_HOST), "chat", "--config", str(config), *args],
        input=lines,
        capture_output=True,
        text=True,
        env=environment(tmp_path),
        timeout=120,
        check=False,
    )


def test_each_line_is_answered_plain_on_stdout(tmp_path: Path) -> None:
    done = chat(tmp_path, "greet Alice\n\nsay hello\n/usage\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "Hello, greet Alice!",
        "**hello** there",  # as the model wrote it: no Markdown rendering, no escapes
        done.stdout.splitlines()[-1],
    ]
    assert done.stdout.splitlines()[-1].endswith(": 2 turns · tokens 3→2 · cost 0.0070")
    assert "\x1b[" not in done.stdout + done.stderr


def test_errors_go_to_stderr_the_rest_goes_on_and_the_status_says_so(tmp_path: Path) -> None:
    done = chat(tmp_path, "/bogus\n/model nowhere\ngreet Bob\n")
    assert done.returncode == 1
    assert done.stdout == "Hello, greet Bob!\n"
    assert done.stderr.splitlines() == [
        "error: unknown command /bogus (/help lists the commands)",
        "error: unknown model 'nowhere' (configured models: local)",
    ]


def test_a_hand_off_is_left_waiting_with_the_command_that_answers_it(tmp_path: Path) -> None:
    write_config(tmp_path, replies=("hi",))
    done = chat(tmp_path, "say hello\n")
    assert done.returncode == 0 and done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"needs a person: {QUESTION} (answer: /resume ")
    run_id = line.removesuffix(" ANSWER)").rsplit(" ", 1)[-1]

    resumed = chat(tmp_path, f"/resume {run_id} well, there\n", "-c")
    assert (resumed.returncode, resumed.stdout) == (0, "well, there\n"), resumed.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--session", "nope"), "error: chat: --session 'nope': no such session"),
        (("--model", "nowhere"), "error: unknown model 'nowhere' (configured models: local)"),
    ],
)
def test_a_bad_option_is_one_error_line(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    done = chat(tmp_path, "greet Alice\n", *args)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith(message) and len(done.stderr.splitlines()) == 1


def test_a_line_that_is_not_utf8_is_read_marked_and_no_run_is_lost(tmp_path: Path) -> None:
    write_config(tmp_path)
    done = subprocess.run(
        [str(AGENT_HOST), "chat", "--config", str(tmp_path / "host.yaml")],
        input=b"greet Alice\ngreet B\xe9a\ngreet Carol\n",
        capture_output=True,
        env=environment(tmp_path),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().splitlines() == [
        "Hello, greet Alice!",
        "Hello, greet B\ufffda!",
        "Hello, greet Carol!",
    ]
    requests = [
        run["request"] for run in recorded_runs(tmp_path / "host.yaml", environment(tmp_path))
    ]
    assert requests == ["greet Carol", "greet B\ufffda", "greet Alice"]


def test_plan_shows_the_last_plan(tmp_path: Path) -> None:
    done = chat(tmp_path, "greet Alice\n/plan\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1:] == [
        "planned by clauses",
        "└── s1_greet  desk.greet(visitor=greet Alice)  [fetch]",
    ]
