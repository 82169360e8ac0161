"""``python -m bench [--quick] [--model]``: run the benchmarks, one ``name: value`` per figure."""

from __future__ import annotations

import argparse
import asyncio

from bench import executor, resilience, startup


async def main(quick: bool, model: bool) -> None:
    modules = [resilience, executor, startup]
    if model:
        from bench import model as embedded

        modules.append(embedded)
    for module in modules:
        for name, value in (await module.run(quick)).items():
            print(f"{name}: {value:.3f}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer calls: same figures in < 30 s")
    parser.add_argument(
        "--model", action="store_true", help="also the embedded model's figures (minutes)"
    )
    arguments = parser.parse_args()
    asyncio.run(main(arguments.quick, arguments.model))
