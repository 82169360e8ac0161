"""Semantic Kernel's own GenAI diagnostics never make a second span for one model call.

SK's switches (``SEMANTICKERNEL_EXPERIMENTAL_GENAI_ENABLE_OTEL_DIAGNOSTICS*``) make
it trace each chat completion on the global tracer, in older conventions. When an
application installed a global provider (which the host then uses), both SK's span
and the host's ``chat`` span would record the one call. A subprocess runs it: SK
reads its switches, and binds its tracer, once per process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

SCRIPT = """
import asyncio, json, os, sys
from pathlib import Path

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

memory = InMemorySpanExporter()
application = TracerProvider()
application.add_span_processor(SimpleSpanProcessor(memory))
trace.set_tracer_provider(application)

from host import AgentHost
from host.testing import ChatReply, OpenAICompatibleServer
from tests.tracing.span_kit import step, write_host


async def main() -> None:
    async with OpenAICompatibleServer(default=ChatReply("hi", usage=(3, 1))) as server:
        hosted = {
            "provider": "openai",
            "model": "gpt-test",
            "base_url": server.base_url,
            "api_key_env": "DIAGNOSTICS_TEST_KEY",
        }
        config = write_host(Path(sys.argv[1]), models={"hosted": hosted})
        async with AgentHost(config, strict=True) as host:
            plan = {"steps": [{**step("ask", "talk.Ask", input="x"), "capability": "fetch"}]}
            result = await host.execute(plan)
    assert result.status == "ok", result.error
    names = {span.context.span_id: span.name for span in memory.get_finished_spans()}
    print(json.dumps([
        {
            "name": span.name,
            "parent": names.get(span.parent.span_id) if span.parent else None,
            "operation": (span.attributes or {}).get("gen_ai.operation.name"),
            "scope": span.instrumentation_scope.name,
        }
        for span in memory.get_finished_spans()
    ]))


asyncio.run(main())
"""


def test_one_model_call_is_one_chat_span_with_sk_diagnostics_switched_on(
    tmp_path: Path,
) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    environment |= {
        "PYTHONPATH": str(ROOT),
        "DIAGNOSTICS_TEST_KEY": "sk-loopback",
        "SEMANTICKERNEL_EXPERIMENTAL_GENAI_ENABLE_OTEL_DIAGNOSTICS": "true",
        "SEMANTICKERNEL_EXPERIMENTAL_GENAI_ENABLE_OTEL_DIAGNOSTICS_SENSITIVE": "true",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    spans = json.loads(done.stdout.splitlines()[-1])

    chats = [span for span in spans if span["operation"] == "chat"]
    assert [(span["name"], span["scope"]) for span in chats] == [("chat gpt-test", "agent_host")]
    # the host calls functions without SK's ``execute_tool`` wrapper span (host/kernel_call.py)
    assert {span["scope"] for span in spans} == {"agent_host"}
