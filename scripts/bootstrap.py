#!/usr/bin/env python3
"""Install agent-host into ./.venv from the lock file, needing nothing but python3.

    python3 scripts/bootstrap.py          # runtime: the host, SK, the embedded model
    python3 scripts/bootstrap.py --dev    # plus pytest, ruff, mypy

uv (pinned below) is installed into ./.tools, apart from the project's venv, and
then `uv sync --frozen` installs exactly what uv.lock says. llama-cpp-python
builds from source the first time (a few minutes); uv caches the wheel.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import venv
from pathlib import Path

UV_VERSION = "0.13.9"
ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / ".tools"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev", action="store_true", help="also install the dev tools")
    args = parser.parse_args()
    if sys.version_info < (3, 11):  # noqa: UP036 - python3 here may be older than the project's
        print("agent-host needs Python 3.11 or newer", file=sys.stderr)
        return 1
    uv = TOOLS / "bin" / "uv"
    if not uv.exists():
        print(f"bootstrap: installing uv {UV_VERSION} into {TOOLS}", flush=True)
        venv.create(TOOLS, with_pip=True)
        run([str(TOOLS / "bin" / "python"), "-m", "pip", "install", "-q", f"uv=={UV_VERSION}"])
    command = [str(uv), "sync", "--frozen", "--python", sys.executable]
    if args.dev:
        command += ["--group", "dev", "--all-extras"]
    print("bootstrap: " + " ".join(command[1:]), flush=True)
    run(command)
    return 0


def run(command: list[str]) -> None:
    environment = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(ROOT / ".venv")}
    completed = subprocess.run(command, cwd=ROOT, env=environment, check=False)
    if completed.returncode != 0:
        sys.exit(f"bootstrap: {command[0]} failed with exit status {completed.returncode}")


if __name__ == "__main__":
    sys.exit(main())
