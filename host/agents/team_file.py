"""Team YAML files: read, validated as a :class:`Team`, each problem at ``file:line``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from host.agents.team import Team, check_team
from host.config.loader import read_yaml_mapping, validation_problems
from host.errors import TeamError

if TYPE_CHECKING:
    from host.config.schema import AgentConfig


def load_team(path: str | Path, agents: Mapping[str, AgentConfig]) -> Team:
    """The team in the YAML file at ``path``, checked against the configured ``agents``.

    Raises :class:`TeamError` with one ``file:line: key.path: problem`` line per
    problem; unknown keys are problems.
    """
    file = Path(path)
    raw, text = read_yaml_mapping(file, kind="team", error=TeamError)
    try:
        team = Team.model_validate(raw)
    except ValidationError as error:
        raise TeamError(validation_problems(error, str(file), text)) from None
    return check_team(team, agents, source=str(file), text=text)
