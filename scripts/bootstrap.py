#!/usr/bin/env python3
"""Install agent-host into ./.venv from the lock file, needing nothing but python3.

    python3 scripts/bootstrap.py          # runtime: the host, SK, the embedded model
    python3 scripts/bootstrap.py --dev    # plus pytest, ruff, mypy and Arize Phoenix (tests)

uv (pinned below) is installed into ./.tools, apart from the project's venv, and
then `uv sync --frozen` installs exactly what uv.lock says, with bytecode
compiled. llama-cpp-python builds from source the first time (a few minutes),
portably (pyproject.toml's `extra-build-variables`); uv caches the wheel by
those flags.

    AGENT_HOST_NATIVE_LLAMA=1 python3 scripts/bootstrap.py

rebuilds llama-cpp-python for this CPU only (faster here, may crash elsewhere);
that wheel is never cached. A later run without the variable, or a venv whose
build is not known to be the portable one, gets the portable build back.
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
VENV = ROOT / ".venv"
BUILD_MARK = VENV / "agent-host-llama-build"
"""Which llama-cpp-python build the venv holds: pyproject's portable flags, or "native"."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev", action="store_true", help="also install the dev tools")
    args = parser.parse_args()
    if sys.version_info < (3, 11):  # noqa: UP036 - python3 here may be older than the project's
        print("agent-host needs Python 3.11 or newer", file=sys.stderr)
        return 1
    import tomllib  # here: the version check above must run on older Pythons too

    uv = TOOLS / "bin" / "uv"
    if not uv.exists():
        print(f"bootstrap: installing uv {UV_VERSION} into {TOOLS}", flush=True)
        venv.create(TOOLS, with_pip=True)
        run([str(TOOLS / "bin" / "python"), "-m", "pip", "install", "-q", f"uv=={UV_VERSION}"])
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    portable = project["tool"]["uv"]["extra-build-variables"]["llama-cpp-python"]["CMAKE_ARGS"]
    native = os.environ.get("AGENT_HOST_NATIVE_LLAMA") == "1"
    held = BUILD_MARK.read_text(encoding="utf-8") if BUILD_MARK.exists() else None
    command = [str(uv), "sync", "--frozen", "--python", sys.executable]
    if args.dev:
        command += ["--group", "dev", "--group", "phoenix", "--all-extras"]
    installed = any(VENV.glob("lib/python*/site-packages/llama_cpp_python-*.dist-info"))
    if installed and not native and held != portable:  # a native or unknown build: rebuild it
        command += ["--reinstall-package", "llama-cpp-python"]
    print("bootstrap: " + " ".join(command[1:]), flush=True)
    run(command)
    if native and held != "native":
        lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
        locked = next(p["version"] for p in lock["package"] if p["name"] == "llama-cpp-python")
        install_native_llama(uv, locked)
    BUILD_MARK.write_text("native" if native else portable, encoding="utf-8")
    return 0


def install_native_llama(uv: Path, version: str) -> None:
    """Rebuild llama-cpp-python ``version`` with -march=native, bypassing uv's cache."""
    print(f"bootstrap: building llama-cpp-python {version} for this CPU only", flush=True)
    run(
        [
            str(uv),
            "pip",
            "install",
            "--no-config",
            "--no-cache",
            "--reinstall",
            "--no-deps",
            "--compile-bytecode",
            "--python",
            str(VENV / "bin" / "python"),
            f"llama-cpp-python=={version}",
        ],
        CMAKE_ARGS="-DGGML_NATIVE=ON",
    )


def run(command: list[str], **variables: str) -> None:
    environment = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(VENV), **variables}
    completed = subprocess.run(command, cwd=ROOT, env=environment, check=False)
    if completed.returncode != 0:
        sys.exit(f"bootstrap: {command[0]} failed with exit status {completed.returncode}")


if __name__ == "__main__":
    sys.exit(main())
