"""Agents in files: each ``<name>.yaml`` of a configured directory holds one agent."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from host.config.loader import read_model_file
from host.config.schema import AGENT_NAME, AgentConfig
from host.errors import ConfigError


def load_agent_files(directories: Iterable[Path]) -> dict[str, AgentConfig]:
    """The agents of every ``*.yaml`` file in ``directories``, by file stem.

    Raises :class:`~host.errors.ConfigError` listing every problem: a missing
    directory, a stem that is not an agent's name, one name in two files, and each
    file's own problems at ``file:line``.
    """
    agents: dict[str, AgentConfig] = {}
    sources: dict[str, Path] = {}
    problems: list[str] = []
    for directory in directories:
        if not directory.is_dir():
            problems.append(f"{directory}: agent directory not found")
            continue
        for file in sorted(directory.glob("*.yaml")):
            name = file.stem
            if AGENT_NAME.fullmatch(name) is None:
                problems.append(f"{file}: an agent's name is letters, digits and _ (got {name!r})")
            elif name in sources:
                problems.append(f"{file}: agent {name!r} is defined in {sources[name]} too")
            else:
                try:
                    agents[name], _ = read_model_file(
                        file, AgentConfig, kind="agent", error=ConfigError
                    )
                except ConfigError as error:
                    problems.extend(error.problems)
                sources[name] = file
    if problems:
        raise ConfigError(problems)
    return agents
