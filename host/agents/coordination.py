"""A team's run: who speaks next, what they said, and when the run ends.

The coordinator keeps one shared transcript and every turn's record. After
each turn it checks, in order: ``done_when`` (``ok``), ``stall_after``
(``stalled``), the token and cost budgets (``budget_exceeded``); before each
turn, the cap on rounds (``round_limit``). A failed turn ends the run
``failed``, as the run's deadline does. Every ending keeps every record.

A ``concurrent`` team takes one round: every agent's turn at once (each
``turn_1_<agent>``, none seeing the others), then its ``resolve``: a vote on a
field of the replies, or a judge's turn (``turn_2_<judge>``) over all of them.
One failed turn fails the run once the others have ended: a vote or a judge
over part of the team would decide for agents that never answered.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from host.agents.conflicts import vote
from host.agents.turn import AgentTurns, Message
from host.errors import AgentHostError
from host.state import RunResult, RunStatus, StepRecord, spent

if TYPE_CHECKING:
    from host.agents.team import Team


class TeamRun:
    """One run of ``team`` on ``task``: :meth:`run` it once; :meth:`result` tells how far
    it got at any time (a cancelled run's record)."""

    def __init__(self, team: Team, task: str, turns: AgentTurns, *, run_id: str) -> None:
        self.team = team
        self.task = task
        self._turns = turns
        self.run_id = run_id
        self.messages: list[Message] = []
        self.records: list[StepRecord] = []
        self.output: Any = None
        self.reason: str | None = None
        """Why the output is what it is, when a conflict strategy decided it."""

    async def run(self) -> RunResult:
        """Take turns until the team is done, stalls, runs out of rounds or budget, or a
        turn fails."""
        team = self.team
        if team.kind == "concurrent":
            return await self._concurrent()
        speaker = team.agents[0]
        while True:
            turn = len(self.records) + 1
            if team.kind == "sequential" and turn > len(team.agents):
                return self.result("ok")
            if team.max_rounds is not None and turn > team.max_rounds:
                return self.result("round_limit", f"reached max_rounds ({team.max_rounds})")
            try:
                record = await self._turns.take(
                    speaker, self.task, self.messages, step_id=f"turn_{turn}_{speaker}"
                )
            except AgentHostError as error:
                if error.step is not None:
                    self.records.append(error.step)
                return self.result("failed", f"agent {speaker!r}: {error}")
            self.records.append(record)
            self.messages.append(
                Message(speaker, "" if record.output is None else str(record.output))
            )
            self.output = self.messages[-1].text
            ended = self._ended()
            if ended is not None:
                return self.result(*ended)
            speaker = self._next_speaker(speaker)

    async def _concurrent(self) -> RunResult:
        """Every agent's turn at once, then the team's resolution of their replies."""
        team = self.team
        replies: dict[str, Any] = {}
        failures: dict[str, AgentHostError] = {}

        async def turn(name: str) -> None:
            try:
                record = await self._turns.take(name, self.task, (), step_id=f"turn_1_{name}")
            except AgentHostError as error:
                failures[name] = error
                if error.step is not None:
                    self.records.append(error.step)
                return
            self.records.append(record)
            replies[name] = record.output

        async with asyncio.TaskGroup() as group:
            for name in team.agents:
                group.create_task(turn(name))
        order = {f"turn_1_{name}": index for index, name in enumerate(team.agents)}
        self.records.sort(key=lambda record: order[record.step_id])
        failed = next((name for name in team.agents if name in failures), None)
        if failed is not None:
            return self.result("failed", f"agent {failed!r}: {failures[failed]}")
        replies = {name: replies[name] for name in team.agents}
        self.output = replies
        if team.resolve is not None and team.resolve.vote is not None:
            decided = vote(team.resolve.vote, replies)
            self.output, self.reason = decided.output, decided.reason
        ended = self._over_budget()
        if ended is None and team.resolve is not None and team.resolve.judge is not None:
            return await self._judge(team.resolve.judge, replies)
        return self.result(*(ended or ("ok", None)))

    async def _judge(self, judge: str, replies: dict[str, Any]) -> RunResult:
        """``judge``'s turn over every reply: its reply is the output and the reason."""
        self.messages = [Message(name, str(reply)) for name, reply in replies.items()]
        try:
            record = await self._turns.take(
                judge, self.task, self.messages, step_id=f"turn_2_{judge}"
            )
        except AgentHostError as error:
            if error.step is not None:
                self.records.append(error.step)
            return self.result("failed", f"judge {judge!r}: {error}")
        self.records.append(record)
        self.output = record.output
        self.reason = f"judge {judge}: {' '.join(str(record.output).split())}"
        return self.result(*(self._over_budget() or ("ok", None)))

    def result(self, status: RunStatus, error: str | None = None) -> RunResult:
        """The run as it stands, ended with ``status``: the last reply is its output (a
        concurrent team's: its decision, else every reply by agent; none for a failed
        run), and a conflict strategy's reason is in its ``plan``."""
        outline = f"team {self.team.name} ({self.team.kind}): {len(self.records)} turn(s)"
        if self.reason is not None:
            outline += f"; {self.reason}"
        return RunResult(
            self.run_id,
            self.task,
            status,
            None if status == "failed" else self.output,
            tuple(self.records),
            plan=outline,
            error=error,
        )

    def _ended(self) -> tuple[RunStatus, str | None] | None:
        """How the run ends after the last turn, if it does."""
        team, last = self.team, self.messages[-1].text
        if team.done_when is not None and team.done_when in last:
            return "ok", None
        stall = team.stall_after
        if stall is not None and len(self.messages) >= stall:
            recent = {m.text.strip() for m in self.messages[-stall:]}
            if len(recent) == 1:
                return "stalled", f"the same message {stall} times in a row"
        return self._over_budget()

    def _over_budget(self) -> tuple[RunStatus, str] | None:
        """``budget_exceeded`` and why, when the turns so far reached a budget."""
        team = self.team
        tokens = (spent(self.records, "tokens_in") or 0) + (spent(self.records, "tokens_out") or 0)
        if team.max_tokens is not None and tokens >= team.max_tokens:
            return "budget_exceeded", f"spent {tokens} tokens (max_tokens {team.max_tokens})"
        cost = spent(self.records, "cost") or 0.0
        if team.max_cost is not None and cost >= team.max_cost:
            return "budget_exceeded", f"spent {cost:g} (max_cost {team.max_cost:g})"
        return None

    def _next_speaker(self, speaker: str) -> str:
        """The agent after ``speaker``: the first matching rule's, else the next in order."""
        last = self.messages[-1].text
        if self.team.speaker == "rules":
            for rule in self.team.rules:
                if rule.when in last:
                    return rule.next
        agents = self.team.agents
        return agents[(agents.index(speaker) + 1) % len(agents)]
