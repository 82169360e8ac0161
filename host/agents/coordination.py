"""A team's run: who speaks next, what they said, and when the run ends.

The coordinator keeps one shared transcript and every turn's record. After
each turn it checks, in order: ``done_when`` (``ok``), ``stall_after``
(``stalled``: the same message that many times in a row, or that many messages in a
row each said before), the token and cost budgets (``budget_exceeded``); before each
round, the cap on rounds (``round_limit``). A failed turn ends the run
``failed``; the run's deadline, ``deadline_exceeded``. Every ending keeps every record; a team
with a ``fallback`` ends a run without a result ``ok`` on its template, marked
degraded, the reason in an ``on_fail`` event.

Who speaks next: the next agent in order (``sequential``, ``group_chat``
round-robin), the first matching rule (``group_chat`` rules), the agent a
``transfer_to_<agent>`` tool names (``handoff``; a reply without one ends the
run, a transfer past ``max_handoffs`` ends it ``round_limit``), or the first edge
whose condition holds (``graph``). A graph reply that no edge takes is a
rejected transition: a ``rejected`` event (outcome ``not_in_graph``) on its
record, the coordinator's note in the transcript, and the same node again.

Replies given at once (a ``concurrent`` team's one round, a graph's ``panel``:
each ``turn_<round>_<agent>``) are settled by a :class:`~host.agents.team.Resolution`:
a vote, a judge's or a coordinator's turn, or a person: the run pauses
``needs_human`` and its resume's answer (an agent's name, or the answer itself)
decides. A panel whose replies all carry the same signal agrees: nothing to settle.
One failed turn fails the round once the others have ended.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import TYPE_CHECKING, Any

from host.agents.conflicts import Decision, vote
from host.agents.team import END
from host.agents.tools import TRANSFERRED, Handoff, handoff
from host.agents.turn import AgentTurns, Message, json_object
from host.config.schema import AgentConfig
from host.errors import AgentHostError, DeadlineExceededError
from host.state import CallEvent, RunResult, RunStatus, StepRecord, spent

if TYPE_CHECKING:
    from host.agents.team import Edge, Resolution, Team

UNRESULTED: tuple[RunStatus, ...] = (
    "round_limit",
    "budget_exceeded",
    "stalled",
    "failed",
    "deadline_exceeded",
)
"""The endings a team's ``fallback`` answers for."""

COORDINATOR = """You coordinate a team. Its agents answered the task at once; their replies \
are the conversation. Choose the one reply that does the task best, and say why in one \
short sentence."""
"""What the coordinating model is told when it settles replies given at once."""

SPEAKER = """You coordinate a team's conversation. Choose the agent who should speak next \
to get the task done, and say why in one short sentence."""
"""What the coordinating model is told when it picks a group chat's next speaker."""


class TeamRun:
    """One run of ``team`` on ``task``: :meth:`run` it once; :meth:`result` tells how far
    it got at any time (a cancelled run's record). :meth:`progress` and :meth:`restore`
    carry a run paused for a person to its resume."""

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
        self.question: str | None = None
        """What a person is asked, while the run waits for them."""
        self._round = 0
        self._node = team.agents[0]
        self._handoffs = 0
        self._pending: dict[str, Any] | None = None
        """Replies waiting for a person's pick (restored on resume)."""
        self._answer: Any = None

    async def run(self) -> RunResult:
        """Take turns until the team is done, stalls, runs out of rounds or budget, a turn
        fails, or it waits for a person."""
        if self.team.kind == "concurrent":
            return await self._concurrent()
        team = self.team
        while True:
            if self._pending is None:
                if team.kind == "sequential" and self._round >= len(team.agents):
                    return self.result("ok")
                capped = self._capped()
                if capped is not None:
                    return capped
                self._round += 1
            node = self._node
            turn = Handoff(self._transfers(node)) if team.kind == "handoff" else None
            spoken = await (self._panel(node) if node in team.panels else self._turn(node, turn))
            if isinstance(spoken, RunResult):
                return spoken
            ended = self._ended()
            if ended is not None:
                return self.result(*ended)
            following = await self._following(node, spoken, turn)
            if isinstance(following, RunResult):
                return following
            self._node = following

    async def _turn(self, name: str, turn: Handoff | None) -> str | RunResult:
        """``name``'s turn after the transcript: its reply (a transfer's note), or the failed
        run."""
        token = handoff.set(turn)
        try:
            record = await self._turns.take(
                name,
                self.task,
                self.messages,
                step_id=f"turn_{self._round}_{name}",
                run_id=self.run_id,
            )
        except AgentHostError as error:
            return self._failed(f"agent {name!r}", error)
        finally:
            handoff.reset(token)
        self.records.append(record)
        text = _text(record.output)
        if turn is not None and turn.target is not None:
            text = TRANSFERRED.format(name=turn.target)
        self.messages.append(Message(name, text))
        self.output = text
        return text

    def _capped(self) -> RunResult | None:
        """The run ended ``round_limit`` when its rounds are all taken."""
        cap = self.team.max_rounds
        if cap is not None and self._round >= cap:
            return self.result("round_limit", f"reached max_rounds ({cap})")
        return None

    def _transfers(self, name: str) -> tuple[str, ...]:
        """The agents ``name`` may hand off to."""
        given = self.team.handoffs.get(name)
        return given if given is not None else tuple(a for a in self.team.agents if a != name)

    async def _following(self, node: str, reply: str, turn: Handoff | None) -> str | RunResult:
        """Who speaks after ``node`` said ``reply``, or how the run ends."""
        team = self.team
        if team.speaker == "model" and team.coordinator is not None:
            return await self._picked(team.coordinator)
        if turn is not None:
            return self._transferred(turn)
        if team.kind == "graph":
            return self._along_graph(node, reply)
        return self._next_speaker(node)

    async def _picked(self, capability: str) -> str | RunResult:
        """The agent the coordinating model picks to speak next (step ``pick_<round>``)."""
        capped = self._capped()  # no pick for a round that will not be taken
        if capped is not None:
            return capped
        name = self._coordinator(capability, self.team.agents, SPEAKER)
        step_id = f"pick_{self._round}"
        picked = await self._decider(name, self.messages, step_id=step_id, who="the coordinator")
        return picked if isinstance(picked, RunResult) else json_object(picked)["choice"]

    def _transferred(self, turn: Handoff) -> str | RunResult:
        """The agent a hand-off turn transferred to; the run's end when it did not, or when
        the transfer is one past ``max_handoffs``."""
        if turn.target is None:
            return self.result("ok")
        self._handoffs += 1
        cap = self.team.max_handoffs
        if cap is not None and self._handoffs > cap:
            return self.result("round_limit", f"reached max_handoffs ({cap})")
        return turn.target

    def _along_graph(self, node: str, reply: str) -> str | RunResult:
        """The node the first of ``node``'s edges that takes ``reply`` leads to (the run's end
        for ``end``, or a node without edges); ``node`` again when none does."""
        edges = [edge for edge in self.team.edges if edge.source == node]
        if not edges:
            return self.result("ok")
        signal = _signal(reply, self.team.signal_field)
        named = [edge.signal for edge in edges if edge.signal is not None]
        if signal is None or not named or signal in named:  # else: a signal no edge takes
            for edge in sorted(edges, key=lambda edge: not edge.conditional):
                if edge.signal is not None and edge.signal != signal:
                    continue
                if edge.contains is not None and edge.contains not in reply:
                    continue
                return self.result("ok") if edge.to == END else edge.to
        return self._rejected(node, signal, edges)

    def _rejected(self, node: str, signal: str | None, edges: list[Edge]) -> str:
        """Record that ``node``'s reply leads nowhere in the graph; ``node`` speaks again."""
        expected = ", ".join(
            f"{e.signal or ''}{' containing ' + repr(e.contains) if e.contains else ''} → {e.to}"
            for e in edges
        )
        said = f"signal {signal!r}" if signal is not None else "a reply without a signal"
        why = f"{node} gave {said}: no edge of the graph takes it (edges: {expected})"
        last = self.records[-1]
        event = CallEvent("rejected", f"{node} → ?", "not_in_graph", error=why)
        last.events = (*last.events, event)
        self.messages.append(Message("coordinator", f"Transition rejected: {why}. Answer again."))
        return node

    async def _panel(self, name: str) -> str | RunResult:
        """A graph panel's round: its agents at once after the transcript, settled by its
        resolution unless they agree; their replies and the decision join the transcript."""
        panel = self.team.panels[name]
        if self._pending is None:
            replies = await self._at_once(panel.agents, self.messages)
            if isinstance(replies, RunResult):
                return replies
            self.messages.extend(Message(agent, _text(reply)) for agent, reply in replies.items())
        else:
            replies = self._pending
        signals = {_signal(_text(reply), self.team.signal_field) for reply in replies.values()}
        if len(signals) == 1 and None not in signals:  # no conflict to settle
            decided = Decision(next(iter(replies.values())), f"{name} agree: {signals.pop()}")
        else:
            settled = await self._settle(panel.resolve, replies)
            if isinstance(settled, RunResult):
                return settled
            decided = settled
            if panel.resolve.vote is not None:  # the reply of the first agent voting the winner
                field = panel.resolve.vote
                voted = (r for r in replies.values() if json_object(r).get(field) == decided.output)
                decided = Decision(next(voted), decided.reason)
        reply = _text(decided.output)
        self.messages.append(Message("coordinator", f"Decision: {decided.reason}"))
        self.output, self.reason = reply, decided.reason
        return reply

    async def _concurrent(self) -> RunResult:
        """Every agent's turn at once, then the team's resolution of their replies."""
        team = self.team
        if self._pending is None:
            self._round = 1
            replies = await self._at_once(team.agents, ())
            if isinstance(replies, RunResult):
                return replies
        else:
            replies = self._pending
        self.output = replies
        resolve = team.resolve
        if resolve is None:
            return self.result(*(self._over_budget() or ("ok", None)))
        if resolve.vote is None and not resolve.human:  # a judge or coordinator spends
            ended = self._over_budget()
            if ended is not None:
                return self.result(*ended)
        decided = await self._settle(resolve, replies)
        if isinstance(decided, RunResult):
            return decided
        self.output, self.reason = decided.output, decided.reason
        return self.result(*(self._over_budget() or ("ok", None)))

    async def _at_once(
        self, agents: tuple[str, ...], messages: list[Message] | tuple[()]
    ) -> dict[str, Any] | RunResult:
        """Each of ``agents``' turns at once (none seeing the others): their replies in
        ``agents``' order, or the failed run."""
        replies: dict[str, Any] = {}
        failures: dict[str, AgentHostError] = {}
        first = len(self.records)
        seen = tuple(messages)

        async def turn(name: str) -> None:
            step_id = f"turn_{self._round}_{name}"
            try:
                record = await self._turns.take(
                    name, self.task, seen, step_id=step_id, run_id=self.run_id
                )
            except AgentHostError as error:
                failures[name] = error
                return
            self.records.append(record)
            replies[name] = record.output

        async with asyncio.TaskGroup() as group:
            for name in agents:
                group.create_task(turn(name))
        self.records.extend(e.step for e in failures.values() if e.step is not None)
        order = {f"turn_{self._round}_{name}": index for index, name in enumerate(agents)}
        self.records[first:] = sorted(self.records[first:], key=lambda r: order[r.step_id])
        failed = next((name for name in agents if name in failures), None)
        if failed is not None:
            return self._failed(f"agent {failed!r}", failures[failed], recorded=True)
        return {name: replies[name] for name in agents}

    async def _settle(self, resolve: Resolution, replies: dict[str, Any]) -> Decision | RunResult:
        """``resolve``'s decision over ``replies``, or the run (failed, or waiting for a
        person to pick)."""
        if resolve.vote is not None:
            return vote(resolve.vote, replies)
        if resolve.human:
            return self._human(replies)
        shown = [Message(name, _text(reply)) for name, reply in replies.items()]
        if resolve.judge is not None:
            judge = resolve.judge
            if "." in judge:  # a function: the host's agent that runs it
                name = f"judge_{_digest(judge)}"
                self._turns.ensure(name, AgentConfig(runs=judge))
                label = "judge"
            else:
                name = label = judge
            self._round += 1
            judged = await self._decider(
                name, shown, step_id=f"turn_{self._round}_{label}", who=f"judge {judge!r}"
            )
            if isinstance(judged, RunResult):
                return judged
            return Decision(judged, f"judge {resolve.judge}: {' '.join(_text(judged).split())}")
        assert resolve.coordinator is not None
        name = self._coordinator(resolve.coordinator, tuple(replies), COORDINATOR)
        self._round += 1
        step_id = f"turn_{self._round}_coordinator"
        chosen = await self._decider(name, shown, step_id=step_id, who="the coordinator")
        if isinstance(chosen, RunResult):
            return chosen
        picked = json_object(chosen)
        choice = picked["choice"]
        return Decision(replies[choice], f"coordinator chose {choice}: {picked['reason']}")

    async def _decider(self, name: str, shown: list[Message], *, step_id: str, who: str) -> Any:
        """The output of ``name``'s turn over ``shown`` (a judge's or coordinator's), or the
        run failed by ``who``."""
        try:
            record = await self._turns.take(
                name, self.task, shown, step_id=step_id, run_id=self.run_id
            )
        except AgentHostError as error:
            return self._failed(who, error)
        self.records.append(record)
        return record.output

    def _failed(self, who: str, error: AgentHostError, *, recorded: bool = False) -> RunResult:
        """The run ended by ``who``'s failed turn (its record kept, unless ``recorded``
        already): ``deadline_exceeded`` when the run's deadline passed, else ``failed``."""
        if error.step is not None and not recorded:
            self.records.append(error.step)
        status: RunStatus = (
            "deadline_exceeded" if isinstance(error, DeadlineExceededError) else "failed"
        )
        return self.result(status, f"{who}: {error}")

    def _coordinator(self, capability: str, agents: tuple[str, ...], instructions: str) -> str:
        """The host's coordinating agent for a choice among ``agents``, routed by
        ``capability`` and told ``instructions``: its reply names one of them, and why."""
        name = f"coordinator_{_digest(capability, instructions, *agents)}"
        schema = {
            "type": "object",
            "properties": {
                "choice": {"type": "string", "enum": list(agents)},
                "reason": {"type": "string", "maxLength": 60},  # ends within max_tokens
            },
            "required": ["choice", "reason"],
            "additionalProperties": False,
        }
        config = AgentConfig(
            instructions=instructions, capability=capability, max_tokens=96, output_schema=schema
        )
        self._turns.ensure(name, config)
        return name

    def _human(self, replies: dict[str, Any]) -> Decision | RunResult:
        """A person's pick: from the resume's answer, or the run paused to ask them."""
        if self._pending is None:
            self._pending = replies
            listed = "\n".join(f"- {name}: {_text(reply)}" for name, reply in replies.items())
            self.question = (
                "The team's agents answered differently. Which reply should it take? Answer "
                f"with an agent's name ({', '.join(replies)}), or with the answer itself.\n"
                f"{listed}"
            )
            return self.result("needs_human")
        answer, self._pending = self._answer, None
        self.question = None
        picked = str(answer).strip()
        self.records.append(
            StepRecord.without_call(
                self.waiting_step,
                "human",
                {},
                output=answer,
                events=(CallEvent("answered", self.waiting_step, "ok"),),
            )
        )
        if picked in replies:
            return Decision(replies[picked], f"a person chose {picked}")
        return Decision(answer, "a person answered")

    @property
    def waiting_step(self) -> str:
        """The step a person's pick is recorded as."""
        return f"decide_{self._round}"

    def progress(self) -> dict[str, Any]:
        """What resuming needs beyond the records: JSON data."""
        return {
            "round": self._round,
            "node": self._node,
            "handoffs": self._handoffs,
            "messages": [[m.speaker, m.text] for m in self.messages],
            "output": self.output,
            "pending": self._pending,
        }

    def restore(
        self, progress: dict[str, Any], records: tuple[StepRecord, ...], answer: Any
    ) -> None:
        """Continue from :meth:`progress` and ``records``, ``answer`` deciding the pick."""
        self._round = progress["round"]
        self._node = progress["node"]
        self._handoffs = progress["handoffs"]
        self.messages = [Message(speaker, text) for speaker, text in progress["messages"]]
        self.output = progress["output"]
        self._pending = progress["pending"]
        self.records = list(records)
        self._answer = answer

    def result(self, status: RunStatus, error: str | None = None) -> RunResult:
        """The run as it stands, ended with ``status``: the last reply is its output (a
        concurrent team's: its decision, else every reply by agent; none for a failed
        run, but a ``fallback``), and a conflict strategy's reason is in its ``plan``."""
        outline = f"team {self.team.name} ({self.team.kind}): {len(self.records)} turn(s)"
        records, output = tuple(self.records), None if status == "failed" else self.output
        if self.team.output is not None and output is not None:
            output = self._chosen_output(self.team.output)
        fallback = self.team.fallback
        if fallback is not None and status in UNRESULTED:
            why = error or status
            output = fallback.template.replace("{task}", self.task)
            event = CallEvent("on_fail", self.team.name, "alternative", error=why)
            stand_in = StepRecord.without_call(
                "fallback", "team.fallback", {}, output=output, degraded=True, events=(event,)
            )
            records, status, error = (*records, stand_in), "ok", None
            outline += f"; fallback ({why})"
        if self.reason is not None:
            outline += f"; {self.reason}"
        waiting = status == "needs_human"
        return RunResult(
            self.run_id,
            self.task,
            status,
            output,
            records,
            plan=outline,
            error=error,
            question=self.question if waiting else None,
            waiting_step=self.waiting_step if waiting else None,
        )

    def _chosen_output(self, chosen: str) -> Any:
        """The latest reply of the team's ``output`` agent (its field, if one is named)."""
        agent, _, field = chosen.partition(".")
        reply = next((m.text for m in reversed(self.messages) if m.speaker == agent), None)
        return json_object(reply).get(field) if field and reply is not None else reply

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
            if _repeated_at_end(self.messages) >= stall:
                return "stalled", f"nothing new said in {stall} messages (each one said before)"
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


def _repeated_at_end(messages: list[Message]) -> int:
    """How many of the last messages each repeat an earlier one (no progress: a ping-pong
    of the same replies)."""
    seen: set[str] = set()
    repeated = 0
    for message in messages:
        text = message.text.strip()
        repeated = repeated + 1 if text in seen else 0
        seen.add(text)
    return repeated


def _digest(*parts: str) -> str:
    """A short name part for the host's own agents, one per distinct ``parts``."""
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()[:8]


def _text(output: Any) -> str:
    """A reply as the transcript shows it: text as given, JSON data as JSON."""
    if output is None:
        return ""
    if isinstance(output, str):
        return output
    return json.dumps(output, ensure_ascii=False)


def _signal(reply: str, field: str) -> str | None:
    """The signal a reply carries: its JSON object's ``field``, when that is text."""
    value = json_object(reply).get(field)
    return value if isinstance(value, str) else None
