"""The embedded model (``python -m bench --model``): decoding speed and the shipped jobs.

Wall time, since llama.cpp works in its own threads; the variants of a ratio
alternate within one run, so both see the same machine.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

from semantic_kernel.contents import ChatHistory

from bench.chat import embedded_turn_ratio
from host import AgentHost
from host.config.schema import LocalOptions
from host.models.llama_models import LlamaSettings, load_model
from host.models.local import LocalChatCompletion, LocalExecutionSettings

ROOT = Path(__file__).resolve().parents[1]
MAIN_JOB = "check yesterday's Shanghai temperature and write a promotion copy"
LIST_SCHEMA = {
    "type": "object",
    "properties": {"fruits": {"type": "array", "items": {"type": "string"}}},
    "required": ["fruits"],
}
TOKENS = 48


async def run(quick: bool) -> dict[str, float]:
    """``model_free_ms_per_token``, ``model_constrained_ratio``, ``model_one_thread_ratio``,
    ``model_prefix_reuse_ratio`` and the main job's and email workflow's seconds."""
    rounds = 2 if quick else 5
    with tempfile.TemporaryDirectory() as directory, _shipped_config_in(Path(directory)):
        return await _measure(rounds)


@contextlib.contextmanager
def _shipped_config_in(directory: Path) -> Iterator[None]:
    """The shipped config's inbox, and its databases, outbox and the user cache (the
    prompt prefixes the model stores, which the figures clear) under ``directory``."""
    paths = {
        "XDG_CACHE_HOME": directory / "cache",
        "AGENT_HOST_INBOX": ROOT / "examples" / "inbox",
        "AGENT_HOST_OUTBOX": directory / "outbox",
        "AGENT_HOST_RUNS_DB": directory / "runs.sqlite3",
        "AGENT_HOST_CUSTOMERS_DB": directory / "customers.sqlite3",
    }
    with mock.patch.dict(os.environ, {name: str(path) for name, path in paths.items()}):
        yield


async def _measure(rounds: int) -> dict[str, float]:
    figures: dict[str, float] = {}
    cores = LocalChatCompletion(service_id="cores")
    one = LocalChatCompletion(service_id="one", options=LocalOptions(n_threads=1))
    free = await _ms_per_token(cores, None, rounds)
    figures["model_free_ms_per_token"] = statistics.median(free)
    constrained = await _ms_per_token(cores, LIST_SCHEMA, rounds)
    figures["model_constrained_ratio"] = statistics.median(
        c / f for c, f in zip(constrained, free, strict=True)
    )
    single = await _ms_per_token(one, None, rounds)
    figures["model_one_thread_ratio"] = statistics.median(
        s / f for s, f in zip(single, free, strict=True)
    )
    figures["model_prefix_reuse_ratio"] = await _prefix_reuse_ratio(rounds)
    figures.update(await _shipped_jobs(rounds))
    return figures


async def _ms_per_token(
    service: LocalChatCompletion, schema: dict[str, Any] | None, rounds: int
) -> list[float]:
    """Per round, wall ms per generated token (a 1-token reply's time taken off)."""
    history = ChatHistory()
    history.add_user_message("List twenty fruits as JSON.")
    response_format = None if schema is None else {"type": "json_object", "schema": schema}

    async def reply(max_tokens: int) -> tuple[float, int]:
        settings = LocalExecutionSettings(max_tokens=max_tokens, response_format=response_format)
        start = time.perf_counter()
        message = await service.get_chat_message_content(history, settings)
        assert message is not None
        return time.perf_counter() - start, message.metadata["usage"].completion_tokens

    await reply(1)  # loads the model; the prompt is then reused alike by both replies
    samples = []
    for _ in range(rounds):
        short, _ = await reply(1)
        long, tokens = await reply(TOKENS)
        samples.append((long - short) * 1000 / (tokens - 1))
    return samples


async def _prefix_reuse_ratio(rounds: int) -> float:
    """A shipped few-shot prompt after one sharing its prefix, over after an unrelated one."""
    messages = [(ROOT / "examples" / "inbox" / f"000{n}.eml").read_text() for n in (1, 2)]
    loaded = load_model("local", LlamaSettings())
    async with AgentHost(ROOT / "config" / "host.yaml") as host:

        async def extract(message: str) -> object:
            return await host.invoke("email.extract_fields", message=message)

        async def after_unrelated() -> float:
            with loaded.call_lock:
                loaded.llama.forget_prompts()
            return await _seconds(lambda: extract(messages[1]))

        async def after_shared() -> float:
            await extract(messages[0])
            return await _seconds(lambda: extract(messages[1]))

        await extract(messages[0])
        ratios = [await after_shared() / await after_unrelated() for _ in range(rounds)]
    return statistics.median(ratios)


async def _shipped_jobs(rounds: int) -> dict[str, float]:
    """The main job and the email workflow in process, the model loaded: with no prompt
    prefix kept anywhere (a first CLI run), with the copies a previous process stored
    (a later CLI run), and again in the same process; and a chat turn of the main job
    over ``host.run`` of it, as a person waits for each."""
    figures = {}
    llama = load_model("local", LlamaSettings()).llama
    async with AgentHost(ROOT / "config" / "host.yaml") as host:

        async def main_job() -> object:
            return await host.run(MAIN_JOB)

        async def email() -> object:
            workflow = ROOT / "workflows" / "email_triage.yaml"
            result = await host.run_workflow(workflow, {"message_id": "0001"})
            return await host.resume(result.run_id, "no")

        for name, job in (("main_job", main_job), ("email_workflow", email)):
            llama.forget_prompts()
            figures[f"{name}_cold_seconds"] = await _seconds(job)
            llama.forget_prompts(stored=False)
            figures[f"{name}_seconds"] = await _seconds(job)
            figures[f"{name}_repeat_seconds"] = await _seconds(job)
        with tempfile.TemporaryDirectory() as directory:
            database = Path(directory) / "sessions.sqlite3"
            figures["chat_turn_latency_ratio_embedded"] = await embedded_turn_ratio(
                host,
                MAIN_JOB,
                database,
                2 * rounds - 1,  # a median of 9: turns vary by 5 %
            )
    return figures


async def _seconds(call: Callable[[], Awaitable[object]]) -> float:
    start = time.perf_counter()
    await call()
    return time.perf_counter() - start
