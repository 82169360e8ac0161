"""``agent-host chat`` driven in a real pseudo-terminal, as a person would."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pexpect
import pytest

from tests.chat.chat_kit import QUESTION, Terminal, environment, recorded_runs, write_config


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path, replies=("hi", "**hello** there"))


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return environment(tmp_path)


def test_a_request_shows_its_plan_each_step_the_answer_and_a_summary(
    config: Path, env: dict[str, str]
) -> None:
    chat = Terminal(config, env=env)
    chat.wait_for("session ")
    chat.send("greet Alice")
    chat.wait_for("plan (clauses): s1_greet desk.greet")
    chat.wait_for("✓ s1_greet  desk.greet")
    chat.wait_for("Hello, greet Alice!")
    chat.wait_for("ok · 1 step · ")
    chat.wait_for("not degraded")
    assert chat.leave() == 0


def test_a_slash_command_answers_and_an_unknown_one_is_one_error_line(
    config: Path, env: dict[str, str]
) -> None:
    chat = Terminal(config, env=env)
    chat.send("/functions")
    listed = chat.wait_for("talk.Echo")
    assert "desk.count" in listed and "desk.greet" in listed
    chat.send("/bogus")
    chat.wait_for("error: unknown command /bogus (/help lists the commands)")
    chat.send("/model nowhere")
    chat.wait_for("error: unknown model 'nowhere' (configured models: local)")
    chat.send("greet Bob")
    chat.wait_for("Hello, greet Bob!")
    assert chat.leave() == 0
    assert "Traceback" not in chat.text


def test_ctrl_c_cancels_the_running_turn_and_the_session_goes_on(
    config: Path, env: dict[str, str]
) -> None:
    chat = Terminal(config, env=env)
    chat.send("count the visitors")
    chat.wait_for("s1_count  desk.count  attempt 1")  # the live line of the running step
    chat.child.sendintr()
    chat.wait_for("cancelled (the session goes on)")
    chat.send("greet Bob")
    chat.wait_for("Hello, greet Bob!")
    assert chat.leave() == 0
    assert "Task was destroyed" not in chat.text and "Traceback" not in chat.text
    statuses = {run["request"]: run["status"] for run in recorded_runs(config, env)}
    assert statuses == {"count the visitors": "cancelled", "greet Bob": "ok"}


def test_a_hand_off_is_asked_inline_and_the_answer_resumes_the_run(
    config: Path, env: dict[str, str]
) -> None:
    chat = Terminal(config, env=env)
    chat.send("say hello")
    chat.wait_for(f"? {QUESTION}")
    chat.send("hi there")
    chat.wait_for("hi there")
    chat.wait_for("ok · 1 step")
    assert chat.leave() == 0
    (run,) = recorded_runs(config, env)
    assert (run["request"], run["status"]) == ("say hello", "ok")


def test_a_hand_off_left_unanswered_waits_for_resume(config: Path, env: dict[str, str]) -> None:
    chat = Terminal(config, env=env)
    chat.send("say hello")
    chat.wait_for(f"? {QUESTION}")
    chat.send("")
    waiting = chat.wait_for(" ANSWER)")
    run_id = re.findall(r"/resume ([0-9a-f]{32})", waiting)[-1]
    chat.send(f"/resume {run_id[:8]} fine, there")
    chat.wait_for("fine, there")
    chat.wait_for("ok · 1 step")
    chat.send("/usage")
    chat.wait_for("1 turn · tokens 3→1 · cost 0.0050")
    assert chat.leave() == 0


def test_history_and_the_session_carry_over_to_the_next_chat(
    config: Path, env: dict[str, str], tmp_path: Path
) -> None:
    first = Terminal(config, env=env)
    session = first.wait_for(" (new)").rsplit(" ", 1)[-1]
    first.send("greet Alice")
    first.wait_for("Hello, greet Alice!")
    assert first.leave() == 0
    assert "+greet Alice" in (tmp_path / "chat-history").read_text()

    second = Terminal(config, "-c", env=env)
    second.wait_for(f"session {session} (continued, 1 turn(s))")
    second.ready()
    second.child.send("\x1b[A")  # Up: the last line of the first chat
    second.wait_for("greet Alice")
    second.child.send("\r")
    second.wait_for("Hello, greet Alice!")
    second.send("/usage")
    second.wait_for(f"session {session}: 2 turns")
    assert second.leave() == 0


def test_a_team_runs_from_the_chat_with_each_turn_shown(tmp_path: Path) -> None:
    config = write_config(tmp_path, replies=("a draft", "looks good"))
    config.write_text(
        config.read_text()
        + "agents:\n  writer:\n    instructions: Write.\n  critic:\n    instructions: Judge.\n"
    )
    (tmp_path / "pair.yaml").write_text("name: pair\nkind: sequential\nagents: [writer, critic]\n")
    env = environment(tmp_path)
    chat = Terminal(config, env=env)
    chat.send(f"/team {tmp_path / 'pair.yaml'} Sell lemons")
    chat.wait_for("✓ turn_1_writer  agent_host.agent_writer")
    chat.wait_for("✓ turn_2_critic  agent_host.agent_critic")
    chat.wait_for("looks good")
    chat.wait_for("ok · 2 steps · ")
    chat.send(f"/team {tmp_path / 'none.yaml'} Sell lemons")
    chat.wait_for("error: ")
    chat.wait_for("none.yaml")
    assert chat.leave() == 0
    assert "Traceback" not in chat.text
    [team] = [run for run in recorded_runs(config, env) if run["kind"] == "team"]
    assert (team["status"], team["request"]) == ("ok", "Sell lemons")


SLOW_START = "import time\n\ntime.sleep(5)  # the host's start waits for this import\n"


def test_a_line_typed_while_the_host_starts_ends_the_chat_if_the_start_fails(
    config: Path, env: dict[str, str]
) -> None:
    (config.parent / "plugins" / "slow.py").write_text(SLOW_START)
    chat = Terminal(config, "--model", "nowhere", env=env)
    chat.send("greet Bob")  # before the start has failed
    chat.wait_for("error: unknown model 'nowhere' (configured models: local)")
    chat.child.expect(pexpect.EOF, timeout=60)
    chat.child.close()
    assert chat.child.exitstatus == 2


def test_ctrl_c_while_the_host_starts_cancels_the_line(config: Path, env: dict[str, str]) -> None:
    (config.parent / "plugins" / "slow.py").write_text(SLOW_START)
    chat = Terminal(config, env=env)
    chat.send("greet Alice")
    time.sleep(1.5)  # the prompt has left the terminal's raw mode; the start takes 5 s or more
    chat.child.sendintr()
    chat.wait_for("cancelled (the session goes on)")
    chat.send("greet Bob")
    chat.wait_for("Hello, greet Bob!")
    assert chat.leave() == 0
    assert [run["request"] for run in recorded_runs(config, env)] == ["greet Bob"]


def test_escape_sequences_a_model_writes_reach_the_terminal_inert(tmp_path: Path) -> None:
    config = write_config(tmp_path, replies=("\x1b[2J\x1b]0;owned\x07\x1b[31mthere",) * 2)
    chat = Terminal(config, env=environment(tmp_path))
    chat.send("say hello")
    chat.wait_for("ok · 1 step")
    chat.send("/chat hi")
    chat.wait_for("local · ")
    assert chat.leave() == 0
    assert "\x1b[2J" not in chat._raw and "\x1b]0;" not in chat._raw
    assert "\x1b[31mthere" not in chat._raw and "[31mthere" in chat.text
