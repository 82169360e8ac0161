"""Settling a concurrent team's replies by a majority vote on one field of their JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from host.agents.turn import json_object


@dataclass(frozen=True)
class Decision:
    """What a conflict strategy settled on, and why, in one line."""

    output: Any
    reason: str


def vote(field: str, replies: Mapping[str, Any]) -> Decision:
    """The majority value of ``field`` across ``replies`` (agent → JSON object, as text or
    parsed), in the team's agent order; of tied values, the one whose first voter comes
    first wins, and the reason says so.

    The team's check guarantees every reply is an object with ``field``
    (each agent's ``output_schema`` requires it, and a reply outside it fails its turn).
    """
    voters: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    for agent, reply in replies.items():
        value = json_object(reply)[field]
        key = json.dumps(value, sort_keys=True)
        values.setdefault(key, value)
        voters.setdefault(key, []).append(agent)
    most = max(len(names) for names in voters.values())
    winner = next(key for key, names in voters.items() if len(names) == most)
    shown = values[winner] if isinstance(values[winner], str) else winner
    reason = f"vote on {field}: {shown} {most} of {len(replies)} ({', '.join(voters[winner])})"
    if sum(len(names) == most for names in voters.values()) > 1:
        reason += ", a tie broken by agent order"
    return Decision(values[winner], reason)
