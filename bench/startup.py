"""How long the CLI takes to start, against importing Semantic Kernel alone (wall time).

``agent-host plugins`` loads config, every plugin and prompt function and
prints the catalogue: the floor of every command. Its floor in turn is
``import semantic_kernel``; the ratio says what the host adds on top.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

_CLI = [str(Path(sys.executable).with_name("agent-host")), "plugins"]
_IMPORT_SK = [sys.executable, "-c", "import semantic_kernel"]


def _wall_seconds(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


async def run(quick: bool) -> dict[str, float]:
    """``cli_start_ratio`` (median of interleaved rounds) and the CLI's median wall seconds."""
    _wall_seconds(_CLI)  # a warm-up: the file cache, and bytecode if it is missing
    cli, sk = [], []
    for _ in range(3 if quick else 7):
        sk.append(_wall_seconds(_IMPORT_SK))
        cli.append(_wall_seconds(_CLI))
    return {
        "cli_start_ratio": statistics.median(c / s for c, s in zip(cli, sk, strict=True)),
        "cli_start_seconds": statistics.median(cli),
        "import_semantic_kernel_seconds": statistics.median(sk),
    }
