"""Cost of the resilience filter chain and of a cache hit, each against its bare baseline."""

from __future__ import annotations

from typing import Any

from semantic_kernel import Kernel
from semantic_kernel.functions import KernelArguments, kernel_function

from bench.timing import ratio, sync_ratio
from host.clock import SystemClock
from host.config import LoadedConfig, parse_config
from host.models.selection import ModelSelector
from host.models.services import ModelServices
from host.resilience.chain import install
from host.resilience.guard import Guard
from host.resilience.policies import PolicyBook
from host.resilience.response_cache import ResponseCache


class NoOp:
    """The functions under the chain: do nothing, so only the chain is measured."""

    @kernel_function(description="Do nothing.")
    def nothing(self, value: str = "x") -> str:
        return value

    @kernel_function(description="Do nothing, asynchronously.")
    async def nothing_async(self, value: str = "x") -> str:
        return value


def _kernel(guarded: bool, *, cached: bool) -> Kernel:
    raw: dict[str, Any] = {
        "models": {"m": {"provider": "scripted", "model": "s"}},
        "tools": {"noop": {"cache_ttl": 300}} if cached else {},
    }
    loaded = LoadedConfig(parse_config(raw, {}, source="bench"), None, {})
    kernel = Kernel()
    kernel.add_plugin(NoOp(), "noop")
    if guarded:
        selector = ModelSelector(ModelServices(loaded))
        install(kernel, Guard(SystemClock(), PolicyBook(loaded.config), selector))
    return kernel


async def run(quick: bool) -> dict[str, float]:
    """The chain around a sync and an async no-op, a cached call, and a cache lookup.

    Each ratio divides by its bare baseline measured in the same run:
    ``kernel.invoke`` without the chain, or a plain dict lookup.
    """
    calls, rounds = (300, 5) if quick else (2000, 9)
    bare, guarded = _kernel(False, cached=False), _kernel(True, cached=False)
    arguments = KernelArguments(value="x")

    def invoker(kernel: Kernel, name: str = "nothing") -> Any:
        function = kernel.get_function("noop", name)
        return lambda: kernel.invoke(function, arguments)

    chain = await ratio(invoker(guarded), invoker(bare), calls=calls, rounds=rounds)
    chain_async = await ratio(
        invoker(guarded, "nothing_async"),
        invoker(bare, "nothing_async"),
        calls=calls,
        rounds=rounds,
    )
    cached = await ratio(
        invoker(_kernel(True, cached=True)), invoker(bare), calls=calls, rounds=rounds
    )

    def key_of() -> str:
        key = ResponseCache.key("noop.nothing", {"value": "x"})
        assert key is not None  # text arguments always make a key
        return key

    cache, table = ResponseCache(), {}
    key = key_of()
    cache.put(key, "x", 0.0)
    table[key] = "x"
    hit = sync_ratio(
        lambda: cache.get(key_of(), 1.0, 300.0),
        lambda: table.get(key),
        calls=calls * 20,
        rounds=rounds,
    )
    return {
        "filter_chain_overhead_ratio": chain,
        "filter_chain_overhead_ratio_async": chain_async,
        "cached_invoke_ratio_vs_bare_invoke": cached,
        "cache_hit_ratio_vs_dict": hit,
    }
