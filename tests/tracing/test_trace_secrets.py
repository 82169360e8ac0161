"""A model key that leaks everywhere it could still shows up in no exported span, log line
or run store byte, with content capture on.

The value of the variable a model row names as ``api_key_env`` is in the run's
request, a step's arguments (so in the rendered prompt), the model's reply, a
tool's output and a tool's error (so in an exception's message and stack trace).
Spans go to a JSON-lines file through the process-wide set-up
(:func:`host.telemetry.start_tracing`), which is ended before the file is read.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from host import AgentHost
from host.redaction import MASK
from host.telemetry import shutdown
from host.testing import ChatReply, OpenAICompatibleServer
from tests.secrets.secrets_kit import files_holding, new_secret
from tests.telemetry.telemetry_kit import read_jsonl
from tests.tracing.span_kit import step, write_host

pytestmark = pytest.mark.reliability

KEY_VARIABLE = "SENTINEL_TRACE_KEY"

LEAKY = f'''\
import os

from semantic_kernel.functions import kernel_function


class Leaky:
    """Answers with the key once, then fails naming it."""

    plugin_name = "leaky"

    def __init__(self) -> None:
        self.calls = 0

    @kernel_function(description="Read the key.")
    def read(self, query: str) -> str:
        self.calls += 1
        secret = os.environ["{KEY_VARIABLE}"]
        if self.calls > 1:
            raise PermissionError(f"key {{secret}} was rejected")
        return f"token {{secret}}"
'''


def leaky_key(folder: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh secret as the value of :data:`KEY_VARIABLE`, and the :data:`LEAKY` plugin
    in ``folder``'s ``plugins``."""
    secret = new_secret()
    monkeypatch.setenv(KEY_VARIABLE, secret)
    (folder / "plugins").mkdir()
    (folder / "plugins" / "leaky.py").write_text(LEAKY, encoding="utf-8")
    return secret


@pytest.mark.usefixtures("no_global_provider")
async def test_a_leaked_key_reaches_no_span_log_line_or_run_store_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = leaky_key(tmp_path, monkeypatch)
    plan = {
        "steps": [
            {**step("ask", "talk.Ask", input=f"say {secret}"), "capability": "write"},
            step("first", "leaky.read", "ask", query=secret),
            step("second", "leaky.read", "first", query=secret),
        ]
    }
    reply = ChatReply(f"Your key is {secret}.", usage=(9, 5))
    async with OpenAICompatibleServer(default=reply) as server:
        hosted = {
            "provider": "openai",
            "model": "gpt-test",
            "base_url": server.base_url,
            "api_key_env": KEY_VARIABLE,
            "capabilities": ["write"],
        }
        config = write_host(
            tmp_path,
            models={"hosted": hosted},
            telemetry={"exporter": "jsonl", "file": "spans.jsonl", "capture_content": True},
        )
        async with AgentHost(config, strict=True) as host:
            result = await host.execute(plan, f"leak {secret}")
        assert server.requests, "the model was called with the key"
    shutdown()

    assert result.status == "failed" and result.trace_id is not None
    assert [s.step_id for s in result.steps] == ["ask", "first", "second"]
    spans = read_jsonl(tmp_path / "spans.jsonl")
    names = {span["name"] for span in spans}
    assert {"chat gpt-test", "execute_tool leaky.read", "step second"} <= names
    assert {span["trace_id"] for span in spans} == {result.trace_id}
    exported = (tmp_path / "spans.jsonl").read_text(encoding="utf-8")
    assert f"token {MASK}" in exported and f"key {MASK} was rejected" in exported
    assert "gen_ai.output.messages" in exported  # content capture was on
    assert files_holding(tmp_path, secret) == []  # spans.jsonl, runs.sqlite3 and its journal
    assert b"leaky.read" in (tmp_path / "runs.sqlite3").read_bytes()  # the run was stored
    assert secret not in caplog.text
    for record in caplog.records:
        assert secret not in record.getMessage() and secret not in (record.exc_text or "")


@pytest.mark.parametrize("installed", ["given", "global"])
async def test_an_applications_own_provider_gets_no_secret_either(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    provider: TracerProvider,
    exporter: InMemorySpanExporter,
    installed: str,
) -> None:
    """The application's provider, passed to the host or installed globally, exports
    through exporters the host did not wrap: the host masks its spans as they end."""
    secret = leaky_key(tmp_path, monkeypatch)
    plan = {
        "steps": [
            step("first", "leaky.read", query=secret),
            step("second", "leaky.read", "first", query=secret),
        ]
    }
    keyed = {"provider": "openai", "model": "gpt-test", "api_key_env": KEY_VARIABLE}
    config = write_host(tmp_path, models={"keyed": keyed}, telemetry={"capture_content": True})
    if installed == "global":
        monkeypatch.setattr(trace, "_TRACER_PROVIDER", provider)
    given = provider if installed == "given" else None
    async with AgentHost(config, strict=True, tracer_provider=given) as host:
        result = await host.execute(plan, f"leak {secret}")

    assert result.status == "failed"
    spans = exporter.get_finished_spans()
    assert {"step first", "step second", "execute_tool leaky.read"} <= {s.name for s in spans}
    exported = "".join(span.to_json() for span in spans)
    assert f"token {MASK}" in exported and f"key {MASK} was rejected" in exported
    assert secret not in exported
