"""Teams of agents: who takes part, how the next speaker is picked, and when the run ends.

A team is checked before it runs (:func:`check_team`): every problem at once,
each at the key path it is about (``rules.1.next``), so a team file reports
``file:line: key.path: problem``. A ``group_chat`` must have ``max_rounds`` or a
budget; without one it could talk forever. A ``concurrent`` team's ``resolve``
must name a field every agent's ``output_schema`` requires (``vote``) or a
configured agent outside the team (``judge``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from host.config.loader import KeyProblem, located
from host.errors import TeamError

if TYPE_CHECKING:
    from host.config.schema import AgentConfig

TeamKind = Literal["sequential", "concurrent", "group_chat"]
Speaker = Literal["round_robin", "rules"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class SpeakerRule(_Strict):
    """When the last message contains ``when`` (as written), ``next`` speaks."""

    when: str = Field(min_length=1)
    next: str


class Resolution(_Strict):
    """How a concurrent team settles its replies: give one of ``vote`` and ``judge``."""

    vote: str | None = Field(default=None, min_length=1)
    """The field of the agents' JSON replies whose majority value wins (ties: agent order)."""
    judge: str | None = None
    """An agent outside the team that reads every reply and decides."""


class Team(_Strict):
    """A team of configured agents working on one task over one shared transcript.

    ``sequential``: each agent speaks once, in order; the output is the last
    reply. ``concurrent``: every agent answers the task at once, none seeing the
    others; the output is ``resolve``'s decision, else each agent's reply by name.
    ``group_chat``: the first agent speaks first, then ``speaker`` picks
    each next one (``round_robin``, or the first of ``rules`` that matches, else
    round-robin); a round is one agent's turn. Budgets and ``done_when`` and
    ``stall_after`` are checked after each turn (a concurrent team's budgets after
    its round, then after its judge).
    """

    name: str = Field(min_length=1)
    kind: TeamKind
    description: str = ""
    agents: tuple[str, ...] = Field(min_length=1)
    speaker: Speaker = "round_robin"
    rules: tuple[SpeakerRule, ...] = ()
    max_rounds: int | None = Field(default=None, gt=0)
    max_tokens: int | None = Field(default=None, gt=0)
    """Tokens (in and out) the team may spend; it ends ``budget_exceeded`` on reaching them."""
    max_cost: float | None = Field(default=None, gt=0)
    """Cost (as the model table prices it) the team may spend; as ``max_tokens``."""
    done_when: str | None = Field(default=None, min_length=1)
    """The run ends ``ok`` when the last message contains this text."""
    stall_after: int | None = Field(default=None, ge=2)
    """The run ends ``stalled`` when the same message comes this many times in a row."""
    resolve: Resolution | None = None
    """A concurrent team's conflict strategy."""


def team_problems(team: Team, agents: Mapping[str, AgentConfig]) -> list[KeyProblem]:
    """Every problem with ``team`` given the configured ``agents``; empty when it is valid."""
    return [
        *_member_problems(team, agents),
        *_kind_problems(team),
        *_speaker_problems(team),
        *_resolve_problems(team, agents),
        *_end_problems(team),
    ]


def check_team(
    team: Team,
    agents: Mapping[str, AgentConfig],
    *,
    source: str | None = None,
    text: str | None = None,
) -> Team:
    """``team`` itself when valid; else raise :class:`TeamError` listing every problem,
    each at ``source:line`` when the file's ``source`` and ``text`` are given."""
    problems = team_problems(team, agents)
    if problems:
        raise TeamError(located(problems, f"team {team.name!r}", source, text))
    return team


def _member_problems(team: Team, agents: Mapping[str, AgentConfig]) -> Iterator[KeyProblem]:
    known = ", ".join(sorted(agents)) or "none"
    seen: set[str] = set()
    for index, name in enumerate(team.agents):
        if name not in agents:
            yield KeyProblem(f"agents.{index}", f"unknown agent {name!r} (agents: {known})")
        if name in seen:
            yield KeyProblem(f"agents.{index}", f"agent {name!r} is listed twice")
        seen.add(name)


_ONE_ROUND = {
    "sequential": (
        ("speaker", "rules", "max_rounds"),
        "only a group_chat has it (sequential: each agent once)",
    ),
    "concurrent": (
        ("speaker", "rules", "max_rounds", "done_when", "stall_after"),
        "a concurrent team has no rounds to pick, cap or end early (each agent once, at once)",
    ),
}
"""The keys a team of each one-round kind may not have, and why."""


def _kind_problems(team: Team) -> Iterator[KeyProblem]:
    keys, problem = _ONE_ROUND.get(team.kind, ((), ""))
    for key in keys:
        if key in team.model_fields_set:
            yield KeyProblem(key, problem)
    if team.resolve is not None and team.kind != "concurrent":
        yield KeyProblem("resolve", "only a concurrent team has it")


def _speaker_problems(team: Team) -> Iterator[KeyProblem]:
    if team.kind != "group_chat":
        return
    if team.speaker == "rules" and not team.rules:
        yield KeyProblem("speaker", "speaker rules needs a list of rules")
    if team.speaker == "round_robin" and team.rules:
        yield KeyProblem("rules", "rules are used only with speaker: rules")
    for index, rule in enumerate(team.rules):
        if rule.next not in team.agents:
            members = ", ".join(team.agents)
            yield KeyProblem(
                f"rules.{index}.next", f"{rule.next!r} is not in this team (agents: {members})"
            )


def _resolve_problems(team: Team, agents: Mapping[str, AgentConfig]) -> Iterator[KeyProblem]:
    resolve = team.resolve
    if resolve is None:
        return
    if (resolve.vote is None) == (resolve.judge is None):
        yield KeyProblem("resolve", "give one of vote (a field) or judge (an agent)")
    if resolve.judge is not None:
        known = ", ".join(sorted(agents)) or "none"
        if resolve.judge in team.agents:
            yield KeyProblem("resolve.judge", f"judge {resolve.judge!r} is one of the team")
        elif resolve.judge not in agents:
            yield KeyProblem("resolve.judge", f"unknown agent {resolve.judge!r} (agents: {known})")
    if resolve.vote is not None:
        for name in team.agents:
            schema = (agents[name].output_schema if name in agents else None) or {}
            if schema.get("type") != "object" or resolve.vote not in schema.get("required", ()):
                yield KeyProblem(
                    "resolve.vote",
                    f"agent {name!r} has no output_schema of type object "
                    f"requiring {resolve.vote!r}",
                )


def _end_problems(team: Team) -> Iterator[KeyProblem]:
    capped = team.max_rounds or team.max_tokens or team.max_cost
    if team.kind == "group_chat" and not capped:
        yield KeyProblem(
            "kind",
            "a group_chat needs max_rounds or a budget (max_tokens, max_cost): "
            "without one it could run forever",
        )
