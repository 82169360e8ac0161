"""The shipped code-review team (teams/code_review.yaml with examples/code_review) over a real
OpenAI client against a loopback server: reviewed, tested in a subprocess, sent back on
an explicit failure only."""

from __future__ import annotations

import json
from typing import Any

import pytest

from host import AgentHost
from host.state import RunResult
from host.testing.openai_server import ChatReply, OpenAICompatibleServer
from tests.conftest import ROOT

CONFIG = ROOT / "examples" / "code_review" / "host.yaml"
TEAM = ROOT / "teams" / "code_review.yaml"

TESTS = """
import unittest
from solution import add

class AddTests(unittest.TestCase):
    def test_adds(self):
        self.assertEqual(add(2, 3), 5)
"""


def coder(code: str) -> ChatReply:
    return ChatReply(json.dumps({"code": code, "tests": TESTS}))


def reviewer(signal: str, comments: str = "fine") -> ChatReply:
    return ChatReply(json.dumps({"signal": signal, "comments": comments}))


@pytest.fixture
def model_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-loopback")
    monkeypatch.setenv("OPENAI_MODEL", "scripted")
    monkeypatch.setenv("AGENT_HOST_RUNS_DB", ":memory:")


async def review(
    monkeypatch: pytest.MonkeyPatch, replies: list[ChatReply]
) -> tuple[RunResult, list[dict[str, Any]]]:
    """The shipped team on "Write add(a, b)", its model answering ``replies`` in order over
    loopback HTTP; the result and the chat requests the server received."""
    async with OpenAICompatibleServer(replies, default=None) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        async with AgentHost(CONFIG) as host:
            result = await host.run_team(TEAM, "Write add(a, b)")
    assert result.status == "ok", result.error
    return result, server.requests


@pytest.mark.usefixtures("model_env")
async def test_failed_tests_send_the_code_back_and_passing_ones_end_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    replies = [
        coder("def add(a, b):\n    return a - b\n"),
        reviewer("approved"),
        coder("def add(a, b):\n    return a + b\n"),
        reviewer("approved"),
    ]
    result, requests = await review(monkeypatch, replies)

    assert [s.step_id for s in result.steps] == [
        "turn_1_coder",
        "turn_2_reviewer",
        "turn_3_tester",
        "turn_4_coder",
        "turn_5_reviewer",
        "turn_6_tester",
    ]
    first, second = (json.loads(s.output) for s in result.steps if s.step_id.endswith("tester"))
    assert (first["signal"], first["failed"]) == ("tests_failed", 1)
    assert "AssertionError: -1 != 5" in first["failures"][0]
    assert (second["signal"], second["passed"]) == ("tests_passed", 1)
    # the coder's second turn saw why the tests failed
    fixing = requests[2]["messages"][-1]["content"]
    assert "tests_failed" in fixing and "-1 != 5" in fixing


@pytest.mark.usefixtures("model_env")
async def test_a_review_may_only_lead_to_testing_or_back_to_the_coder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    replies = [
        coder("def add(a, b):\n    return a + b\n"),
        reviewer("changes_requested", "name the arguments"),
        coder("def add(x, y):\n    return x + y\n"),
        reviewer("approved"),
    ]
    result, requests = await review(monkeypatch, replies)

    assert [s.step_id.split("_", 2)[2] for s in result.steps] == [
        "coder",
        "reviewer",
        "coder",
        "reviewer",
        "tester",
    ]
    assert "name the arguments" in requests[2]["messages"][-1]["content"]
