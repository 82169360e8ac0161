"""Teams of agents: who takes part, how the next speaker is picked, and when the run ends.

A team is checked before it runs (:func:`check_team`): every problem at once,
each at the key path it is about (``rules.1.next``), so a team file reports
``file:line: key.path: problem``. A team that can go round (a ``group_chat``, a
``handoff`` team, a ``graph`` with a cycle or a node whose reply its edges may reject,
so that it speaks again) must have a cap (``max_rounds``,
``max_handoffs``) or a budget; without one it could talk forever. A cycle of a
graph must have an edge leaving it, or it could never end. A ``resolve`` must
name a field every agent's ``output_schema`` requires (``vote``), a configured
agent outside the team (``judge``), a capability (``coordinator``), or a person
(``human``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from host.config.loader import KeyProblem, located
from host.errors import TeamError

if TYPE_CHECKING:
    from host.config.schema import AgentConfig

TeamKind = Literal["sequential", "concurrent", "group_chat", "handoff", "graph"]
Speaker = Literal["round_robin", "rules", "model"]

END = "end"
"""The node a graph's edge leads to when the run is done."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class SpeakerRule(_Strict):
    """When the last message contains ``when`` (as written), ``next`` speaks."""

    when: str = Field(min_length=1)
    next: str


class Resolution(_Strict):
    """How replies given at once are settled: give one of ``vote``, ``judge``,
    ``coordinator`` and ``human``."""

    vote: str | None = Field(default=None, min_length=1)
    """The field of the agents' JSON replies whose majority value wins (ties: agent order)."""
    judge: str | None = None
    """An agent outside the team, or a loaded function (``plugin.function``, given the
    ``task`` and the replies as ``transcript``), that reads every reply and decides."""
    coordinator: str | None = Field(default=None, min_length=1)
    """A capability: the model it routes to picks one agent's reply, with its reason."""
    human: bool = False
    """A person picks: the run pauses ``needs_human`` and its resume's answer decides."""

    def strategies(self) -> list[str]:
        """The strategies given (exactly one, in a valid resolution)."""
        given = {"vote": self.vote, "judge": self.judge, "coordinator": self.coordinator}
        return [name for name, value in given.items() if value is not None] + (
            ["human"] if self.human else []
        )


class Edge(_Strict):
    """A graph's transition: after ``from`` speaks, ``to`` does (``end``: the run is done)
    when the reply carries ``signal`` (and contains ``contains``); an edge with neither
    is taken when no conditional edge of ``from`` is."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    source: str = Field(alias="from")
    to: str
    signal: str | None = Field(default=None, min_length=1)
    contains: str | None = Field(default=None, min_length=1)

    @property
    def conditional(self) -> bool:
        """Whether the edge has a condition."""
        return self.signal is not None or self.contains is not None


class Panel(_Strict):
    """Agents of a graph that answer at once, as one node, settled by ``resolve``."""

    agents: tuple[str, ...] = Field(min_length=2)
    resolve: Resolution


class Fallback(_Strict):
    """What a team answers when it ends without a result (a cap, a budget, a stall or a
    failed turn): ``template`` with ``{task}`` filled in, marked degraded."""

    template: str = Field(min_length=1)


class Team(_Strict):
    """A team of configured agents working on one task over one shared transcript.

    ``sequential``: each agent speaks once, in order; the output is the last
    reply. ``concurrent``: every agent answers the task at once, none seeing the
    others; the output is ``resolve``'s decision, else each agent's reply by name.
    ``group_chat``: the first agent speaks first, then ``speaker`` picks
    each next one (``round_robin``, or the first of ``rules`` that matches, else
    round-robin); a round is one agent's turn. ``handoff``: the first agent
    speaks first; each may call a ``transfer_to_<agent>`` tool (to the agents
    ``handoffs`` lists for it, else every other one), and the one it names speaks
    next; a reply without a transfer ends the run. ``graph``: the first node (an
    agent, or a ``panel`` of agents answering at once) speaks first, then the
    first of its ``edges`` whose condition holds leads on; a reply that no edge
    takes is a rejected transition, recorded and answered by the coordinator in
    the transcript, and the same node speaks again. Budgets and ``done_when`` and
    ``stall_after`` are checked after each turn (a concurrent team's budgets after
    its round, then after its judge).
    """

    name: str = Field(min_length=1)
    kind: TeamKind
    description: str = ""
    agents: tuple[str, ...] = Field(min_length=1)
    speaker: Speaker = "round_robin"
    rules: tuple[SpeakerRule, ...] = ()
    coordinator: str | None = Field(default=None, min_length=1)
    """With ``speaker: model``: the capability whose model picks each next speaker."""
    max_rounds: int | None = Field(default=None, gt=0)
    max_tokens: int | None = Field(default=None, gt=0)
    """Tokens (in and out) the team may spend; it ends ``budget_exceeded`` on reaching them."""
    max_cost: float | None = Field(default=None, gt=0)
    """Cost (as the model table prices it) the team may spend; as ``max_tokens``."""
    done_when: str | None = Field(default=None, min_length=1)
    """The run ends ``ok`` when the last message contains this text."""
    stall_after: int | None = Field(default=None, ge=2)
    """The run ends ``stalled`` when the same message comes this many times in a row, or
    when this many messages in a row each repeat an earlier one (no progress)."""
    resolve: Resolution | None = None
    """A concurrent team's conflict strategy."""
    handoffs: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    """A handoff team's transfers: agent → the agents it may hand off to (default: all)."""
    max_handoffs: int | None = Field(default=None, gt=0)
    """A handoff team's cap on transfers; it ends ``round_limit`` on the next one."""
    edges: tuple[Edge, ...] = ()
    """A graph's transitions, tried in order per node (conditional ones first)."""
    panels: dict[str, Panel] = Field(default_factory=dict)
    """A graph's nodes of several agents answering at once: name → panel."""
    signal_field: str = Field(default="signal", min_length=1)
    """The field of a JSON reply that carries its signal for a graph's edges."""
    fallback: Fallback | None = None
    """The degraded answer of a run that ends without a result."""
    output: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[^.]+)?$")
    """The agent whose latest reply is the run's output (default: the last reply), or
    ``agent.field``: that field of its latest JSON reply."""

    def nodes(self) -> tuple[str, ...]:
        """A graph's nodes: its agents, then its panels."""
        return (*self.agents, *self.panels)


def team_problems(
    team: Team, agents: Mapping[str, AgentConfig], functions: Collection[str] | None = None
) -> list[KeyProblem]:
    """Every problem with ``team`` given the configured ``agents`` and, if given, the loaded
    ``functions`` (``plugin.function``) a judge may be; empty when it is valid."""
    return [
        *_member_problems(team, agents),
        *_kind_problems(team),
        *_speaker_problems(team),
        *_resolve_problems(team.resolve, "resolve", team.agents, agents, functions),
        *_handoff_problems(team),
        *_graph_problems(team, agents, functions),
        *_end_problems(team),
    ]


def check_team(
    team: Team,
    agents: Mapping[str, AgentConfig],
    functions: Collection[str] | None = None,
    *,
    source: str | None = None,
    text: str | None = None,
) -> Team:
    """``team`` itself when valid; else raise :class:`TeamError` listing every problem,
    each at ``source:line`` when the file's ``source`` and ``text`` are given."""
    problems = team_problems(team, agents, functions)
    if problems:
        raise TeamError(located(problems, f"team {team.name!r}", source, text))
    return team


def _member_problems(team: Team, agents: Mapping[str, AgentConfig]) -> Iterator[KeyProblem]:
    yield from _unknown(team.agents, "agents", agents)
    seen: set[str] = set()
    for index, name in enumerate(team.agents):
        if name in seen:
            yield KeyProblem(f"agents.{index}", f"agent {name!r} is listed twice")
        seen.add(name)
    speakers = {*team.agents, *(a for panel in team.panels.values() for a in panel.agents)}
    if team.output is not None:
        agent, _, field = team.output.partition(".")
        if agent not in speakers:
            yield KeyProblem("output", f"{agent!r} is not an agent of this team")
        elif field and agent in agents and field not in _required(agents[agent]):
            yield KeyProblem("output", f"agent {agent!r} has no output_schema requiring {field!r}")


def _required(agent: AgentConfig) -> list[str]:
    """The fields ``agent``'s JSON replies always have."""
    return list((agent.output_schema or {}).get("required") or ())


def _unknown(
    names: Sequence[str], key: str, agents: Mapping[str, AgentConfig]
) -> Iterator[KeyProblem]:
    known = ", ".join(sorted(agents)) or "none"
    for index, name in enumerate(names):
        if name not in agents:
            yield KeyProblem(f"{key}.{index}", f"unknown agent {name!r} (agents: {known})")


_KINDS: dict[str, tuple[TeamKind, ...]] = {
    "speaker": ("group_chat",),
    "rules": ("group_chat",),
    "coordinator": ("group_chat",),
    "max_rounds": ("group_chat", "handoff", "graph"),
    "done_when": ("sequential", "group_chat", "handoff", "graph"),
    "stall_after": ("sequential", "group_chat", "handoff", "graph"),
    "resolve": ("concurrent",),
    "handoffs": ("handoff",),
    "max_handoffs": ("handoff",),
    "edges": ("graph",),
    "panels": ("graph",),
    "signal_field": ("graph",),
}
"""The keys only some kinds of team have, and those kinds."""

_WHY = {
    "sequential": "sequential: each agent once",
    "concurrent": "concurrent: each agent once, at once",
}


def _kind_problems(team: Team) -> Iterator[KeyProblem]:
    for key, kinds in _KINDS.items():
        if key in team.model_fields_set and team.kind not in kinds:
            why = f" ({_WHY[team.kind]})" if team.kind in _WHY else ""
            named = " or ".join(", ".join(kinds).rsplit(", ", 1))
            yield KeyProblem(key, f"only a {named} team has it{why}")
    if team.kind == "graph" and not team.edges:
        yield KeyProblem("edges", "a graph needs edges")


def _speaker_problems(team: Team) -> Iterator[KeyProblem]:
    if team.kind != "group_chat":
        return
    if team.speaker == "rules" and not team.rules:
        yield KeyProblem("speaker", "speaker rules needs a list of rules")
    if team.speaker != "rules" and team.rules:
        yield KeyProblem("rules", "rules are used only with speaker: rules")
    if team.speaker == "model" and team.coordinator is None:
        yield KeyProblem("speaker", "speaker model needs coordinator: the capability that picks")
    if team.speaker != "model" and team.coordinator is not None:
        yield KeyProblem("coordinator", "a coordinator picks speakers only with speaker: model")
    for index, rule in enumerate(team.rules):
        if rule.next not in team.agents:
            members = ", ".join(team.agents)
            yield KeyProblem(
                f"rules.{index}.next", f"{rule.next!r} is not in this team (agents: {members})"
            )


def _resolve_problems(
    resolve: Resolution | None,
    key: str,
    members: Sequence[str],
    agents: Mapping[str, AgentConfig],
    functions: Collection[str] | None,
) -> Iterator[KeyProblem]:
    if resolve is None:
        return
    if len(resolve.strategies()) != 1:
        yield KeyProblem(
            key,
            "give one of vote (a field), judge (an agent), coordinator (a capability) "
            "or human: true",
        )
    judge = resolve.judge
    if judge is not None and "." in judge and functions is not None and judge not in functions:
        yield KeyProblem(f"{key}.judge", f"{judge!r} is not a loaded function")
    if resolve.judge is not None and "." not in resolve.judge:
        known = ", ".join(sorted(agents)) or "none"
        if resolve.judge in members:
            yield KeyProblem(f"{key}.judge", f"judge {resolve.judge!r} is one of the team")
        elif resolve.judge not in agents:
            yield KeyProblem(f"{key}.judge", f"unknown agent {resolve.judge!r} (agents: {known})")
    if resolve.vote is not None:
        for name in members:
            schema = (agents[name].output_schema if name in agents else None) or {}
            if schema.get("type") != "object" or resolve.vote not in _required(agents[name]):
                yield KeyProblem(
                    f"{key}.vote",
                    f"agent {name!r} has no output_schema of type object "
                    f"requiring {resolve.vote!r}",
                )


def _handoff_problems(team: Team) -> Iterator[KeyProblem]:
    for name, targets in team.handoffs.items():
        if name not in team.agents:
            yield KeyProblem(f"handoffs.{name}", f"{name!r} is not in this team")
        for index, target in enumerate(targets):
            if target not in team.agents or target == name:
                yield KeyProblem(
                    f"handoffs.{name}.{index}",
                    f"{target!r} is not another agent of this team",
                )


def _graph_problems(
    team: Team, agents: Mapping[str, AgentConfig], functions: Collection[str] | None
) -> Iterator[KeyProblem]:
    if team.kind != "graph":
        return
    nodes = team.nodes()
    for index, name in enumerate(team.agents):
        if name == END:
            yield KeyProblem(f"agents.{index}", f"{END!r} is where edges end: rename the agent")
    for name, panel in team.panels.items():
        if name in team.agents:
            yield KeyProblem(f"panels.{name}", f"panel {name!r} has an agent's name")
        if name == END:
            yield KeyProblem(f"panels.{name}", f"{END!r} is where edges end: rename the panel")
        yield from _unknown(panel.agents, f"panels.{name}.agents", agents)
        for index, agent in enumerate(panel.agents):
            if agent in panel.agents[:index]:
                yield KeyProblem(
                    f"panels.{name}.agents.{index}", f"agent {agent!r} is listed twice"
                )
        where = f"panels.{name}.resolve"
        yield from _resolve_problems(panel.resolve, where, panel.agents, agents, functions)
    unconditional: set[str] = set()
    for index, edge in enumerate(team.edges):
        if edge.source not in nodes:
            yield KeyProblem(f"edges.{index}.from", f"{edge.source!r} is not a node of this graph")
        if edge.to not in nodes and edge.to != END:
            yield KeyProblem(
                f"edges.{index}.to", f"{edge.to!r} is not a node of this graph (nor {END!r})"
            )
        if not edge.conditional:
            if edge.source in unconditional:
                yield KeyProblem(
                    f"edges.{index}",
                    f"{edge.source!r} has two edges without a condition",
                )
            unconditional.add(edge.source)
    if any(edge.source not in nodes or edge.to not in (*nodes, END) for edge in team.edges):
        return
    reached = _reachable(team.edges, nodes[0])
    for node in nodes:
        if node not in reached:
            yield KeyProblem("edges", f"{node!r} is never reached from {nodes[0]!r}")
    for cycle in _cycles(team.edges, nodes):
        if not any(e.source in cycle and e.to not in cycle for e in team.edges):
            shown = " → ".join(sorted(cycle))
            yield KeyProblem(
                "edges", f"the cycle {shown} has no edge out of it: it could never end"
            )


def _reachable(edges: Sequence[Edge], start: str) -> set[str]:
    """The nodes ``edges`` lead to from ``start``, ``start`` included."""
    reached, todo = {start}, [start]
    while todo:
        node = todo.pop()
        for edge in edges:
            if edge.source == node and edge.to not in reached:
                reached.add(edge.to)
                todo.append(edge.to)
    return reached


def _cycles(edges: Sequence[Edge], nodes: Sequence[str]) -> list[set[str]]:
    """The graph's strongly connected parts that hold a cycle (a node with an edge to itself
    included), each as its set of nodes."""
    reach = {node: _reachable(edges, node) for node in nodes}
    parts: list[set[str]] = []
    for node in nodes:
        if any(node in part for part in parts):
            continue
        part = {other for other in nodes if other in reach[node] and node in reach[other]}
        looping = len(part) > 1 or any(e.source == node and e.to == node for e in edges)
        if looping:
            parts.append(part)
    return parts


def _end_problems(team: Team) -> Iterator[KeyProblem]:
    capped = team.max_rounds or team.max_tokens or team.max_cost or team.max_handoffs
    if capped:
        return
    kind = team.kind
    if kind in ("group_chat", "handoff") or (kind == "graph" and _cycles(team.edges, team.nodes())):
        what = {"group_chat": "a group_chat", "handoff": "a handoff team"}.get(
            kind, "a cyclic graph"
        )
    elif kind == "graph" and (repeating := _rejecting(team)):
        what = f"a graph whose node {repeating[0]!r} speaks again on a rejected transition"
    else:
        return
    caps = "max_rounds, max_handoffs" if kind == "handoff" else "max_rounds"
    yield KeyProblem(
        "kind",
        f"{what} needs {caps} or a budget (max_tokens, max_cost): without one it could run forever",
    )


def _rejecting(team: Team) -> list[str]:
    """The graph's nodes whose reply its edges may reject, so that the node speaks again: a
    node with an edge on a signal (another signal is rejected), or with edges but none
    without a condition (a reply meeting none is rejected)."""
    rejecting = []
    for node in team.nodes():
        edges = [edge for edge in team.edges if edge.source == node]
        if any(edge.signal is not None for edge in edges) or (
            edges and all(edge.conditional for edge in edges)
        ):
            rejecting.append(node)
    return rejecting
