"""Cost of teams of agents: an agent turn against a plan's prompt step, and a concurrent round.

``agent_turn_overhead_ratio`` is the CPU time per turn of a ``sequential`` team of
three agents (``host.run_team``: the team checked, each turn routed by the agent's
capability, its prompt rendered from the instructions, task and transcript, the
model called through the resilience chain, its step record kept, the transcript
grown) over the CPU time per step of a plan of three prompt-function steps
(``host.execute``: the plan read, each step routed by the same capability to the
same model, a prompt of the same four variables and text as an agent's turn, through
the same chain, its step record kept, the next given the one before's output),
alternated in rounds, median (the fixed cost of a run is in both, over three turns
or steps). The model is a scripted one that
answers at once, so the model's own time is left out; tracing is off and runs are
recorded in the run store on neither side (``runs.record: false``, as in
``bench.executor``: ``run_store_overhead_ratio`` is that cost).

``concurrent_agents_wall_ratio`` is the wall time of a ``concurrent`` team of ten
agents over that of a one-agent ``concurrent`` team, whose every reply comes from a
scripted model after an ``asyncio.sleep`` of :data:`REPLY_SECONDS` (a round bound by
waiting on the model, as with any real one), alternated, median. Ideal is 1.0.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

from bench.timing import ratio
from host import AgentHost
from host.agents import Team
from host.testing import Delay, Reply, ScriptedChatCompletion

TURNS = 3
"""Agents of the sequential team, and steps of the plan it is held against."""

WIDTH = 10
"""Agents of the concurrent team."""

REPLY_SECONDS = 0.1
"""How long the concurrent teams' model takes over each reply: as long as
``bench.executor``'s fan-out steps wait (a hosted model is slower still). The ten turns'
own CPU, about 0.5 ms each, would read 1.13 to 1.20 against a 0.02 s reply."""

TURN = (
    "name: Turn\n"
    'template: "{{$instructions}}\\n\\nTask: {{$task}}\\n\\nConversation so far:\\n'
    '{{$transcript}}\\n\\nYou are {{$speaker}}. Write your reply."\n'
    "description: Take a turn.\n"
)
"""A prompt function of the same four variables and text as an agent's turn."""

AGENTS = "agents:\n" + "".join(
    f"  a{index}:\n    instructions: Reply briefly.\n" for index in range(WIDTH)
)

CONFIG = (
    "models:\n  m:\n    provider: scripted\n    model: s\n"
    "prompts:\n  directories: [prompts]\n"
    "runs:\n  record: false\n" + AGENTS
)


def _plan(length: int) -> dict[str, Any]:
    """``length`` steps of ``talk.Turn``, each given the one before's output as its
    transcript, as each agent of a sequential team is given the replies before it."""
    steps = []
    for index in range(length):
        transcript: Any = "(nothing yet)" if index == 0 else {"$ref": f"steps.s{index - 1}.output"}
        arguments = {
            "instructions": "Reply briefly.",
            "task": "task",
            "transcript": transcript,
            "speaker": f"a{index}",
        }
        steps.append(
            {
                "id": f"s{index}",
                "function": "talk.Turn",
                "arguments": arguments,
                "capability": "write",
            }
        )
    return {"steps": steps}


def _team(kind: Literal["sequential", "concurrent"], width: int) -> Team:
    return Team(name=f"{kind}_{width}", kind=kind, agents=tuple(f"a{i}" for i in range(width)))


async def run(quick: bool) -> dict[str, float]:
    """``agent_turn_overhead_ratio`` (target ≤ 1.5) and ``concurrent_agents_wall_ratio``
    (target ≤ 1.2), each against its baseline in the same run."""
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / "prompts" / "talk").mkdir(parents=True)
        (root / "prompts" / "talk" / "turn.yaml").write_text(TURN)
        (root / "host.yaml").write_text(CONFIG)
        instant = ScriptedChatCompletion("m", default=Reply("ok"))
        async with AgentHost(root / "host.yaml", models={"m": instant}) as host:
            turn_ratio = await _turn_ratio(host, instant, quick)
        slow = ScriptedChatCompletion("m", default=Delay(REPLY_SECONDS, Reply("ok")))
        async with AgentHost(root / "host.yaml", models={"m": slow}) as host:
            wall_ratio = await _wall_ratio(host, slow, quick)
    return {
        "agent_turn_overhead_ratio": turn_ratio,
        "concurrent_agents_wall_ratio": wall_ratio,
    }


async def _turn_ratio(host: AgentHost, model: ScriptedChatCompletion, quick: bool) -> float:
    team = _team("sequential", TURNS)
    plan = _plan(TURNS)

    async def team_run() -> object:
        result = await host.run_team(team, "task")
        assert result.status == "ok", result.error
        model.requests.clear()  # what the double remembers, not part of either side's cost
        return result

    async def plan_run() -> object:
        result = await host.execute(plan)
        assert result.status == "ok", result.error
        model.requests.clear()
        return result

    checked = await host.run_team(team, "task")
    assert len(checked.steps) == TURNS, checked.steps
    calls, rounds = (50, 3) if quick else (200, 7)
    # Turns and steps are as many on both sides: the per-run ratio is the per-turn one.
    return await ratio(team_run, plan_run, calls=calls, rounds=rounds)


async def _wall_ratio(host: AgentHost, model: ScriptedChatCompletion, quick: bool) -> float:
    wide, one = _team("concurrent", WIDTH), _team("concurrent", 1)

    async def wall(team: Team) -> float:
        started = time.perf_counter()
        result = await host.run_team(team, "task")
        elapsed = time.perf_counter() - started
        assert result.status == "ok" and len(result.steps) == len(team.agents), result.error
        model.requests.clear()
        return elapsed

    await wall(wide)
    await wall(one)
    ratios = []
    for _ in range(10 if quick else 30):
        base = await wall(one)
        ratios.append(await wall(wide) / base)
    return statistics.median(ratios)
