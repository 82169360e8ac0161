"""How long the CLI takes to start, against importing Semantic Kernel alone (wall time).

``agent-host plugins`` loads config, every plugin and prompt function and
prints the catalogue: the floor of every command. Its floor in turn is
``import semantic_kernel``, which every plugin's ``@kernel_function`` import
pulls in whole (SK's root imports its template engines, ``openai`` and
``aiohttp``). ``cli_start_ratio`` says what the host adds on top of that import,
``cli_start_ratio_vs_python`` what the whole start-up costs against a bare
interpreter, and ``cli_host_share`` the host's own work alone, measured in one
process after the import, so a change to the host's part is not lost in two
processes' noise.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

_CLI = [str(Path(sys.executable).with_name("agent-host")), "plugins"]
_IMPORT_SK = [sys.executable, "-c", "import semantic_kernel"]
_BARE_PYTHON = [sys.executable, "-c", "pass"]
_HOST_AFTER_SK = [
    sys.executable,
    "-c",
    "import contextlib, io, time\n"
    "start = time.perf_counter()\n"
    "import semantic_kernel\n"
    "imported = time.perf_counter()\n"
    "from host.cli import main\n"
    "with contextlib.redirect_stdout(io.StringIO()):\n"
    "    main(['plugins'])\n"
    "print((time.perf_counter() - imported) / (imported - start))\n",
]
"""Prints the CLI's ``plugins`` work after ``import semantic_kernel`` over that import."""


def _wall_seconds(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def _host_share() -> float:
    printed = subprocess.run(_HOST_AFTER_SK, check=True, capture_output=True, text=True).stdout
    return float(printed)


async def run(quick: bool) -> dict[str, float]:
    """The start-up ratios (medians of interleaved rounds) and the CLI's median wall seconds."""
    _wall_seconds(_CLI)  # a warm-up: the file cache, and bytecode if it is missing
    cli, sk, bare, share = [], [], [], []
    for _ in range(3 if quick else 7):
        bare.append(_wall_seconds(_BARE_PYTHON))
        sk.append(_wall_seconds(_IMPORT_SK))
        cli.append(_wall_seconds(_CLI))
        share.append(_host_share())
    return {
        "cli_start_ratio": statistics.median(c / s for c, s in zip(cli, sk, strict=True)),
        "cli_start_ratio_vs_python": statistics.median(
            c / b for c, b in zip(cli, bare, strict=True)
        ),
        "cli_host_share": statistics.median(share),
        "cli_start_seconds": statistics.median(cli),
        "import_semantic_kernel_seconds": statistics.median(sk),
    }
