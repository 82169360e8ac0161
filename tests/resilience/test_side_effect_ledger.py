"""A model call during which a side-effecting tool ran is neither retried nor sent to any
fallback: its own, a fallback's, or the route's other capable models."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from resilience_kit import payments, write_config, write_ledger_plugin
from semantic_kernel.connectors.ai.prompt_execution_settings import PromptExecutionSettings
from semantic_kernel.contents import AuthorRole, ChatHistory

from host import AgentHost
from host.errors import AgentHostError
from host.state import StepRecord
from host.testing import Raise, Reply, ScriptedChatCompletion, Step, ToolCall, VirtualClock

MODELS = ("primary", "backup", "spare")
"""Every model is capable of ``classify``; routing tries them in this order (cheapest first)."""


def pays_then_fails(history: ChatHistory, settings: PromptExecutionSettings) -> Step:
    """Pay on a fresh request; fail once the payment's result is back."""
    if history.messages[-1].role == AuthorRole.TOOL:
        return Raise(ConnectionError("connection lost after paying"))
    return ToolCall("ledger.pay", {"amount": 5})


@dataclass(frozen=True)
class Case:
    """Who pays (then fails) and what could repeat the payment.

    ``policies`` are the model rows' ``retries``/``fallback``; ``routed`` runs the
    call as a plan step, so the route's other capable models follow the policy's
    fallbacks. ``primary`` fails without paying unless it is the payer.
    """

    payer: str
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    routed: bool = False


CASES = {
    "no-retry-of-the-model-that-paid": Case("primary", {"primary": {"retries": 2}}),
    "no-fallback-after-the-model-paid": Case("primary", {"primary": {"fallback": ["backup"]}}),
    "no-retry-of-a-fallback-that-paid": Case(
        "backup", {"primary": {"fallback": ["backup"]}, "backup": {"retries": 2}}
    ),
    "no-next-fallback-after-a-fallback-paid": Case(
        "backup", {"primary": {"fallback": ["backup", "spare"]}}
    ),
    "no-route-fallback-after-the-routed-model-paid": Case("primary", routed=True),
    "no-route-fallback-after-a-fallback-paid": Case(
        "backup", {"primary": {"fallback": ["backup"]}}, routed=True
    ),
}


def services(case: Case, clock: VirtualClock) -> dict[str, ScriptedChatCompletion]:
    def default(name: str) -> Step:
        if name == case.payer:
            return pays_then_fails
        if name == "primary":
            return Raise(ConnectionError("primary down"))
        return Reply(f"{name} must not be asked")

    return {
        name: ScriptedChatCompletion(name, default=default(name), clock=clock) for name in MODELS
    }


async def run_agent(host: AgentHost, routed: bool) -> StepRecord:
    """The ``talk.Agent`` call's failed record, called directly or as a routed plan step."""
    if not routed:
        with pytest.raises(AgentHostError) as raised:
            await host.invoke("talk.Agent", input="pay 5 once")
        assert raised.value.step is not None
        return raised.value.step
    step = {"id": "pay", "function": "talk.Agent", "arguments": {"input": "pay 5 once"}}
    result = await host.execute({"steps": [{**step, "capability": "classify"}]})
    assert result.status == "failed"
    [record] = result.steps
    return record


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
async def test_a_side_effect_is_never_repeated_by_retry_or_fallback(
    tmp_path: Path, clock: VirtualClock, case: Case
) -> None:
    plugins, tools = write_ledger_plugin(tmp_path)
    models = {
        name: {
            "provider": "scripted",
            "model": name,
            "capabilities": ["classify"],
            "cost": {"input": cost, "output": cost},
            **case.policies.get(name, {}),
        }
        for cost, name in enumerate(MODELS)
    }
    scripted = services(case, clock)
    config = write_config(tmp_path, models=models, tools=tools)
    async with AgentHost(
        config, plugin_dirs=[plugins], clock=clock, strict=True, models=scripted
    ) as host:
        record = await run_agent(host, case.routed)

    assert payments(tmp_path) == ["5"]
    assert len(scripted[case.payer].requests) == 2, "asked to pay, then failed; never again"
    unasked = [n for n in MODELS if n not in ("primary", case.payer) and scripted[n].requests]
    assert unasked == []
    attempts = [e.target for e in record.events if e.kind == "attempt"]
    assert attempts[-2:] == ["ledger.pay", case.payer], "nothing was attempted after the payer"
    assert (record.status, record.error_type) == ("failed", "ProviderError")
