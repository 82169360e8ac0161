"""A model name that is not in the config is an error, never a silent run on the default."""

from __future__ import annotations

from pathlib import Path

import pytest

from host import AgentHost
from host.errors import ConfigError
from host.testing import Reply, ScriptedChatCompletion
from tests.executor.echo_kit import write_echo_config

WRITER = "  writer:\n    provider: scripted\n    model: w\n"


@pytest.mark.parametrize("function", ["talk.Echo", "clock.today"], ids=["prompt", "native"])
async def test_invoking_an_unknown_model_names_the_configured_ones_and_runs_nothing(
    tmp_path: Path, function: str
) -> None:
    models = {name: ScriptedChatCompletion(name, [Reply("hi")]) for name in ("local", "writer")}
    async with AgentHost(write_echo_config(tmp_path, model=WRITER), models=models) as host:
        with pytest.raises(ConfigError) as raised:
            await host.invoke(function, model="writr")
    assert raised.value.problems == ["unknown model 'writr' (configured models: local, writer)"]
    assert [model.requests for model in models.values()] == [[], []]


async def test_a_configured_model_named_on_invoke_serves_the_call(tmp_path: Path) -> None:
    models = {name: ScriptedChatCompletion(name, [Reply(name)]) for name in ("local", "writer")}
    async with AgentHost(write_echo_config(tmp_path, model=WRITER), models=models) as host:
        record = await host.invoke("talk.Echo", input="hi", model="writer")
    assert (record.output, record.model) == ("writer", "writer")
