"""Hosts and team files for team tests: one scripted model and four configured agents."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from semantic_kernel.connectors.ai.prompt_execution_settings import PromptExecutionSettings
from semantic_kernel.contents import ChatHistory

from host.testing.scripted import Responder, Step

AGENTS = """\
agents:
  writer:
    description: Writes a draft.
    instructions: Write the draft.
    capability: write
  critic:
    instructions: Criticise the draft.
    capability: review
  editor:
    instructions: Polish the draft.
    model: local
  judge:
    instructions: Give a verdict.
    max_tokens: 50
    output_schema:
      type: object
      properties: {verdict: {type: string, enum: [approved, changes_requested]}}
      required: [verdict]
"""

REVIEWERS = "".join(
    f"""\
  {name}:
    instructions: Review the copy.
    output_schema:
      type: object
      properties: {{verdict: {{type: string}}, reason: {{type: string}}}}
      required: [verdict]
"""
    for name in ("rev_a", "rev_b", "rev_c")
)
"""Three more agents whose replies are JSON objects requiring ``verdict`` (append to AGENTS)."""


def write_host(tmp_path: Path, *, agents: str = AGENTS) -> Path:
    """``host.yaml`` in ``tmp_path``: scripted model ``local`` (writes and reviews, 1 per
    1,000 tokens in, 2 out) and ``agents``, its runs in ``runs.sqlite3`` there."""
    config = tmp_path / "host.yaml"
    config.write_text(
        "models:\n  local:\n    provider: scripted\n    model: s\n"
        "    capabilities: [write, review]\n    cost: {input: 1.0, output: 2.0}\n"
        f"runs:\n  database: {tmp_path / 'runs.sqlite3'}\n" + agents
    )
    return config


def write_team(tmp_path: Path, text: str, name: str = "team.yaml") -> Path:
    """A team file ``name`` in ``tmp_path`` holding ``text``."""
    path = tmp_path / name
    path.write_text(text)
    return path


def by_agent(steps: Mapping[str, Step]) -> Responder:
    """A scripted model's step for each agent's turn, picked by the ``You are <agent>.`` line
    of its prompt (concurrent turns reach the model in no set order)."""

    def respond(history: ChatHistory, _: PromptExecutionSettings) -> Step:
        found = re.search(r"You are (\w+)\.", str(history.messages[-1].content))
        assert found is not None, "not an agent's turn"
        return steps[found[1]]

    return respond
