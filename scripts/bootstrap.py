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
that wheel is never cached. A later run without the variable (or with it 0), or
a venv whose build is not known to be the portable one, gets the portable build
back from uv's cache. A rerun repairs what an interrupted one left: a uv that
does not run as the pinned version is installed again, and an installed package
whose files are missing is reinstalled.

This file parses on Python 3.6 and later, so an older python3 is told what it needs.
"""

import argparse
import compileall
import csv
import os
import subprocess
import sys
import venv
from pathlib import Path

if sys.version_info < (3, 11):  # noqa: UP036 - python3 here may be older than the project's
    found = sys.version.split()[0]
    sys.exit(
        f"bootstrap: agent-host needs Python 3.11 or newer, and this is Python {found} "
        f"({sys.executable}). Install Python 3.11+ and run this script with it, "
        "e.g. python3.11 scripts/bootstrap.py"
    )

import tomllib  # only after the version check: Python 3.11 added it

UV_VERSION = "0.13.9"
ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / ".tools"
VENV = ROOT / ".venv"
BUILD_MARK = VENV / "agent-host-llama-build"
"""Which llama-cpp-python build the venv holds: pyproject's portable flags, or "native"."""
NATIVE_VARIABLE = "AGENT_HOST_NATIVE_LLAMA"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev", action="store_true", help="also install the dev tools")
    args = parser.parse_args()
    native = wants_native_build()
    uv = TOOLS / "bin" / "uv"
    if not uv_runs(uv):
        install_uv()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    portable = project["tool"]["uv"]["extra-build-variables"]["llama-cpp-python"]["CMAKE_ARGS"]
    command = [str(uv), "sync", "--frozen", "--python", sys.executable]
    if args.dev:
        command += ["--group", "dev", "--group", "phoenix", "--all-extras"]
    print("bootstrap: " + " ".join(command[1:]), flush=True)
    run(sync_keeping_native(command, native), "uv sync")
    # Reinstalling by uninstalling, then syncing from uv's cache: uv's --reinstall-package
    # implies --refresh-package, which would build llama-cpp-python from source again.
    reinstall = damaged_packages()
    if not native and held_build() != portable and llama_installed():
        reinstall.add("llama_cpp_python")  # a native or unknown build
    if reinstall:
        names = sorted(reinstall)
        print("bootstrap: reinstalling " + ", ".join(names), flush=True)
        python = str(VENV / "bin" / "python")
        run([str(uv), "pip", "uninstall", "--python", python, *names], "uv pip uninstall")
        if "llama_cpp_python" in reinstall:
            BUILD_MARK.unlink(missing_ok=True)
        run(sync_keeping_native(command, native), "uv sync")
    if native and held_build() != "native":
        lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
        locked = next(p["version"] for p in lock["package"] if p["name"] == "llama-cpp-python")
        BUILD_MARK.unlink(missing_ok=True)  # unknown until the native build is in place
        install_native_llama(uv, locked)
    BUILD_MARK.write_text("native" if native else portable, encoding="utf-8")
    compile_project()
    return 0


PROJECT_PACKAGES = ("host", "planners", "plugins")
"""The project's own code, installed editable: uv compiles only what it installs."""


def compile_project() -> None:
    """Write the bytecode of the project's own modules (about 0.15 s of every start where
    ``PYTHONDONTWRITEBYTECODE=1`` keeps Python from writing it when it imports them)."""
    for name in PROJECT_PACKAGES:
        if (ROOT / name).is_dir():
            compileall.compile_dir(ROOT / name, quiet=1)


def wants_native_build() -> bool:
    """``AGENT_HOST_NATIVE_LLAMA``: "1" builds for this CPU; unset, empty or "0" is portable."""
    value = os.environ.get(NATIVE_VARIABLE, "")
    if value not in ("", "0", "1"):
        sys.exit(
            f"bootstrap: {NATIVE_VARIABLE}={value!r} is not understood: set it to 1 to build "
            "llama-cpp-python for this CPU only, or to 0 (or unset it) for the portable build"
        )
    return value == "1"


def sync_keeping_native(command: list[str], native: bool) -> list[str]:
    """``command``, told to leave a native build that is to stay in place.

    uv records a build's variables and replaces a build made without pyproject's, so
    a plain sync would swap the native build for the portable one on every rerun.
    """
    if native and held_build() == "native" and llama_installed():
        return [*command, "--inexact", "--no-install-package", "llama-cpp-python"]
    return command


def uv_runs(uv: Path) -> bool:
    """Whether ``uv`` runs and is the pinned version (an interrupted install leaves a stub)."""
    try:
        completed = subprocess.run(
            [str(uv), "--version"], capture_output=True, text=True, check=False
        )
    except OSError:
        return False
    return completed.returncode == 0 and completed.stdout.split()[:2] == ["uv", UV_VERSION]


def install_uv() -> None:
    print(f"bootstrap: installing uv {UV_VERSION} into {TOOLS}", flush=True)
    try:
        venv.create(TOOLS, clear=True, with_pip=True)
    except (OSError, subprocess.CalledProcessError) as error:
        sys.exit(
            f"bootstrap: cannot create a virtual environment with pip in {TOOLS} ({error}). "
            "This Python lacks its venv or ensurepip module: install it "
            "(Debian/Ubuntu: apt install python3-venv) and run this script again"
        )
    pip = [str(TOOLS / "bin" / "python"), "-m", "pip", "install", "-q", f"uv=={UV_VERSION}"]
    run(pip, f"installing uv {UV_VERSION} with pip (is PyPI or your PIP_INDEX_URL reachable?)")


def held_build() -> str | None:
    return BUILD_MARK.read_text(encoding="utf-8") if BUILD_MARK.is_file() else None


def llama_installed() -> bool:
    return any(VENV.glob("lib/python*/site-packages/llama_cpp_python-*.dist-info"))


def damaged_packages() -> set[str]:
    """Installed distributions with a file their RECORD lists missing (uv sync trusts them)."""
    damaged: set[str] = set()
    for info in VENV.glob("lib/python*/site-packages/*.dist-info"):
        name = info.name.split("-")[0]
        record = info / "RECORD"
        if not record.is_file():
            damaged.add(name)
            continue
        with record.open(encoding="utf-8", newline="") as rows:
            listed = [row[0] for row in csv.reader(rows) if row]
        if any(not (info.parent / path).exists() for path in listed):
            damaged.add(name)
    return damaged


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
        "the native llama-cpp-python build",
        CMAKE_ARGS="-DGGML_NATIVE=ON",
    )


def run(command: list[str], step: str, **variables: str) -> None:
    """Run ``command`` in the project root; on failure, exit naming ``step`` and the remedy."""
    environment = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(VENV), **variables}
    try:
        completed = subprocess.run(command, cwd=ROOT, env=environment, check=False)
    except OSError as error:
        sys.exit(f"bootstrap: {step} could not start ({error}); run this script again")
    if completed.returncode != 0:
        sys.exit(
            f"bootstrap: {step} failed (exit status {completed.returncode}); its message is "
            "above. Fix what it names and run this script again"
        )


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print(
            "bootstrap: interrupted; run this script again to finish the install", file=sys.stderr
        )
        sys.exit(130)
