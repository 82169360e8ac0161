"""``python -m bench [--quick]``: run every benchmark, print one ``name: value`` line per figure."""

from __future__ import annotations

import argparse
import asyncio

from bench import executor, resilience, startup


async def main(quick: bool) -> None:
    for module in (resilience, executor, startup):
        for name, value in (await module.run(quick)).items():
            print(f"{name}: {value:.3f}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer calls: same figures in < 30 s")
    asyncio.run(main(parser.parse_args().quick))
