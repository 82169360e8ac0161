"""``agent-host team`` and ``agent-host trace`` on a team run, as real subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.agents.team_kit import write_host, write_team
from tests.conftest import ROOT

SCRIPTED = "    options: {replies: [draft one, APPROVED]}\n"


def agent_host(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "host", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def config(tmp_path: Path) -> Path:
    path = write_host(tmp_path)
    text = path.read_text().replace("    cost:", SCRIPTED + "    cost:", 1)
    path.write_text(text)
    return path


def test_a_team_prints_its_output_and_its_run_can_be_traced(tmp_path: Path) -> None:
    host = config(tmp_path)
    team = write_team(tmp_path, "name: pair\nkind: sequential\nagents: [writer, critic]\n")

    done = agent_host("team", str(team), "Sell lemons", "--config", str(host), "--json")

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["status"], result["output"]) == ("ok", "APPROVED")
    assert [s["step_id"] for s in result["steps"]] == ["turn_1_writer", "turn_2_critic"]
    shown = agent_host("trace", result["run_id"], "--config", str(host))
    assert shown.returncode == 0, shown.stderr
    assert "team pair" in shown.stdout
    assert "turn_1_writer" in shown.stdout and "turn_2_critic" in shown.stdout
    rounds = [line.strip("│├└─ ") for line in shown.stdout.splitlines() if "round " in line]
    assert rounds == ["round 1", "round 2"]


def test_a_run_that_ends_short_of_ok_exits_1_naming_why(tmp_path: Path) -> None:
    host = config(tmp_path)
    team = write_team(
        tmp_path, "name: chat\nkind: group_chat\nagents: [writer, critic]\nmax_rounds: 1\n"
    )

    done = agent_host("team", str(team), "Sell lemons", "--config", str(host))

    assert done.returncode == 1
    assert done.stderr == "error: reached max_rounds (1)\n"


def test_a_bad_team_file_exits_2_with_its_line(tmp_path: Path) -> None:
    team = write_team(tmp_path, "name: t\nkind: sequential\nagents: [ghost]\n")

    done = agent_host("team", str(team), "task", "--config", str(config(tmp_path)))

    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {team}:3: agents.0: unknown agent 'ghost'")


def test_an_empty_task_exits_2_before_any_turn(tmp_path: Path) -> None:
    team = write_team(tmp_path, "name: pair\nkind: sequential\nagents: [writer, critic]\n")
    host = config(tmp_path)

    done = agent_host("team", str(team), "  ", "--config", str(host), "--json")

    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "error: team 'pair': the task is empty: give the team its work\n"
    listed = agent_host("runs", "--json", "--config", str(host))
    assert json.loads(listed.stdout) == []  # nothing ran, nothing was recorded
