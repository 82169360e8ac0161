"""Agents defined in Python: the ``agents:`` section's entries with their name."""

from __future__ import annotations

from pydantic import Field

from host.config.schema import AGENT_NAME, AgentConfig


class Agent(AgentConfig):
    """An agent as ``AgentHost(agents=[...])`` takes it: a name and the fields of an entry
    of the ``agents:`` section (it replaces a configured agent of the same name)."""

    name: str = Field(pattern=f"^{AGENT_NAME.pattern}$")

    def config(self) -> AgentConfig:
        """The agent without its name, as the ``agents:`` section holds it."""
        return AgentConfig.model_validate(self.model_dump(exclude={"name"}, exclude_unset=True))
