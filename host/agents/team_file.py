"""Team YAML files: read, validated as a :class:`Team`, each problem at ``file:line``."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from host.agents.team import Team, check_team
from host.config.loader import read_model_file
from host.errors import TeamError

if TYPE_CHECKING:
    from host.config.schema import AgentConfig


def load_team(
    path: str | Path, agents: Mapping[str, AgentConfig], functions: Collection[str] | None = None
) -> Team:
    """The team in the YAML file at ``path``, checked against the configured ``agents`` (and
    the loaded ``functions``, if given).

    Raises :class:`TeamError` with one ``file:line: key.path: problem`` line per
    problem; unknown keys are problems.
    """
    file = Path(path)
    team, text = read_model_file(file, Team, kind="team", error=TeamError)
    return check_team(team, agents, functions, source=str(file), text=text)
