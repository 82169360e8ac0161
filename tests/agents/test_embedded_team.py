"""The shipped team on the shipped config's embedded model, offline."""

from __future__ import annotations

import json

import pytest

from host import AgentHost
from tests.conftest import ROOT


@pytest.mark.slow
async def test_copy_review_ends_ok_on_the_embedded_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_HOST_WEATHER_NETWORK", "false")
    async with AgentHost() as host:
        result = await host.run_team(ROOT / "teams" / "copy_review.yaml", "Promote lemon ice cream")

    assert result.status == "ok", result.error
    assert [(s.step_id, s.model) for s in result.steps] == [
        ("turn_1_copywriter", "local"),
        ("turn_2_reviewer", "local"),
    ]
    assert json.loads(result.output)["verdict"] in ("approved", "changes_requested")
