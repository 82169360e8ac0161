"""Semantic Kernel's own ``execute_tool`` span, started on the global tracer around every
``KernelFunction.invoke``, under the host's provider and under an application's.

One subprocess runs both cases (SK's module-level tracer binds to the first global
provider of a process, so this cannot run beside other tests): a step span, and
inside it a function invoked through SK whose invocation filter opens an attempt
span, as the host's chain does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.telemetry.telemetry_kit import read_jsonl, write_config

SCRIPT = """
import asyncio, json, sys
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from semantic_kernel import Kernel
from semantic_kernel.filters.filter_types import FilterTypes
from semantic_kernel.functions import kernel_function

from host.config import load_config
from host.telemetry import shutdown, start_tracing


class Weather:
    @kernel_function
    def daily(self) -> str:
        return "sunny"


def traced_call(tracer):
    kernel = Kernel()
    kernel.add_plugin(Weather(), "weather")

    async def attempt(context, next):
        with tracer.start_as_current_span("attempt 1"):
            await next(context)

    kernel.add_filter(FilterTypes.FUNCTION_INVOCATION, attempt)

    async def step():
        with tracer.start_as_current_span("step s1"):
            await kernel.get_function("weather", "daily").invoke(kernel)

    asyncio.run(step())


def tree(spans):
    names = {span["span_id"]: span["name"] for span in spans}
    return [[s["name"], s["scope"], names.get(s["parent_id"]), s["trace_id"]] for s in spans]


traced_call(start_tracing(load_config(sys.argv[1])).tracer)
shutdown()
own = [json.loads(line) for line in open(sys.argv[2])]

memory = InMemorySpanExporter()
application = TracerProvider()
application.add_span_processor(SimpleSpanProcessor(memory))
trace.set_tracer_provider(application)
traced_call(start_tracing(load_config(sys.argv[1])).tracer)
from host.telemetry.jsonl import span_record
installed = [span_record(span) for span in memory.get_finished_spans()]
print(json.dumps({"own": tree(own), "application": tree(installed)}))
"""

Tree = list[list[str | None]]


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Tree]:
    folder = tmp_path_factory.mktemp("kernel")
    config = write_config(folder, "exporter: jsonl\nfile: spans.jsonl")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(config), str(folder / "spans.jsonl")],
        capture_output=True,
        text=True,
        env={**environment, "PYTHONPATH": str(ROOT)},
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert read_jsonl(folder / "spans.jsonl")  # the host's own provider exported
    trees: dict[str, Tree] = json.loads(result.stdout)
    return trees


def test_host_provider_keeps_sk_span_out_and_parents_whole(trees: dict[str, Tree]) -> None:
    spans = trees["own"]
    assert [(name, scope, parent) for name, scope, parent, _ in spans] == [
        ("attempt 1", "agent_host", "step s1"),
        ("step s1", "agent_host", None),
    ]
    assert len({trace_id for *_, trace_id in spans}) == 1


def test_application_provider_records_sk_span_between(trees: dict[str, Tree]) -> None:
    spans = trees["application"]
    kernel_scope = "semantic_kernel.functions.kernel_function"
    assert [(name, scope, parent) for name, scope, parent, _ in spans] == [
        ("attempt 1", "agent_host", "execute_tool weather-daily"),
        ("execute_tool weather-daily", kernel_scope, "step s1"),
        ("step s1", "agent_host", None),
    ]
    assert len({trace_id for *_, trace_id in spans}) == 1
