"""Helpers the resilience specifications share: config files and loopback model rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from host.testing import OpenAICompatibleServer

ASK_PROMPT = """\
name: Ask
template: "Answer {{$input}}"
description: Ask the configured model a question.
execution_settings:
  default:
    max_tokens: 20
"""

AGENT_PROMPT = """\
name: Agent
template: "Do {{$input}}"
description: Let the model call tools, automatically invoked.
execution_settings:
  default:
    function_choice_behavior:
      type: auto
      auto_invoke: true
"""

API_KEY_ENV = "RESILIENCE_TEST_KEY"


def write_config(
    directory: Path,
    *,
    models: dict[str, dict[str, Any]] | None = None,
    tools: dict[str, dict[str, Any]] | None = None,
    resilience: dict[str, Any] | None = None,
    **extra: Any,
) -> Path:
    """Write ``host.yaml`` with a ``talk`` prompt plugin (``Ask``, ``Agent``); return its path.

    Without ``models``, one scripted model stands in: tool tests need a model row.
    """
    prompts = directory / "prompts" / "talk"
    prompts.mkdir(parents=True, exist_ok=True)
    (prompts / "ask.yaml").write_text(ASK_PROMPT, encoding="utf-8")
    (prompts / "agent.yaml").write_text(AGENT_PROMPT, encoding="utf-8")
    config: dict[str, Any] = {
        "models": models or {"main": {"provider": "scripted", "model": "scripted-1"}},
        "tools": tools or {},
        "resilience": resilience or {},
        "prompts": {"directories": ["prompts"]},
        **extra,
    }
    path = directory / "host.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def openai_model(server: OpenAICompatibleServer, model: str, **policy: Any) -> dict[str, Any]:
    """A model row for the real ``openai`` client talking to ``server`` on loopback."""
    return {
        "provider": "openai",
        "model": model,
        "base_url": server.base_url,
        "api_key_env": API_KEY_ENV,
        **policy,
    }
