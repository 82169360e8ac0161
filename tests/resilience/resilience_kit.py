"""Helpers the resilience specifications share: config files and loopback model rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from host import AgentHost
from host.testing import OpenAICompatibleServer, VirtualClock

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

LEDGER_PLUGIN = '''\
from pathlib import Path

from semantic_kernel.functions import kernel_function

from host.effects import side_effects


class Ledger:
    """Records each payment as a line of a file: a side effect a test can count."""

    plugin_name = "ledger"

    def __init__(self, path: str) -> None:
        self._path = Path(path)

    @side_effects
    @kernel_function(description="Pay an amount.")
    def pay(self, amount: int) -> str:
        with self._path.open("a", encoding="utf-8") as ledger:
            ledger.write(f"{amount}\\n")
        return "paid"
'''


def write_ledger_plugin(directory: Path) -> tuple[Path, dict[str, Any]]:
    """The ``ledger`` plugin's directory, and its ``tools`` entry writing to ``ledger.txt``.

    Read the payments with ``payments(directory)``.
    """
    plugins = directory / "ledger"
    plugins.mkdir()
    (plugins / "ledger.py").write_text(LEDGER_PLUGIN, encoding="utf-8")
    ledger = directory / "ledger.txt"
    ledger.touch()
    return plugins, {"ledger": {"settings": {"path": str(ledger)}}}


def payments(directory: Path) -> list[str]:
    """The amounts the ``ledger`` plugin of ``write_ledger_plugin(directory)`` paid."""
    return (directory / "ledger.txt").read_text(encoding="utf-8").split()


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


def tool_host(
    tmp_path: Path,
    clock: VirtualClock,
    plugins: Path,
    policy: dict[str, Any],
    **resilience: Any,
) -> AgentHost:
    """A strict host over ``plugins`` with ``policy`` for the ``faulty`` tool, on ``clock``."""
    config = write_config(tmp_path, tools={"faulty": policy}, resilience=resilience)
    return AgentHost(config, plugin_dirs=[plugins], clock=clock, strict=True)
