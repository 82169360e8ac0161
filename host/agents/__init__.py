"""Agents and teams of agents: each agent turn a step through the host's router, resilience
chain and records.

Define agents in the config's ``agents:`` section or in Python (:class:`Agent`),
teams in YAML (:func:`load_team`) or in Python (:class:`Team`);
``AgentHost.run_team`` checks a team and runs it.
"""

from host.agents.spec import Agent
from host.agents.team import Resolution, SpeakerRule, Team, check_team, team_problems
from host.agents.team_file import load_team

__all__ = [
    "Agent",
    "Resolution",
    "SpeakerRule",
    "Team",
    "check_team",
    "load_team",
    "team_problems",
]
