"""scripts/bootstrap.py on a temporary copy of the project, with a stand-in uv.

The stand-in logs each call and acts out what the bootstrap relies on (``sync``
installs llama-cpp-python's dist-info, ``pip uninstall`` removes dist-infos), so these
tests read which commands a run issues without touching the network or uv's cache.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
PORTABLE = "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"

FAKE_UV = """\
import json, os, shutil, signal, sys
from pathlib import Path
root = Path(__file__).resolve().parent.parent.parent
args = sys.argv[1:]
with (root / "uv-calls.jsonl").open("a") as log:
    log.write(json.dumps(args) + "\\n")
if args == ["--version"]:
    print("uv 0.13.9 (stand-in)")
    sys.exit(0)
if os.environ.get("FAKE_UV_INTERRUPT") and args[0] == "sync":
    os.kill(os.getppid(), signal.SIGINT)
    sys.exit(130)
site = Path(os.environ["UV_PROJECT_ENVIRONMENT"]) / "lib" / "python3.11" / "site-packages"
llama = site / "llama_cpp_python-0.3.36.dist-info"
if args[0] == "sync":
    (Path(os.environ["UV_PROJECT_ENVIRONMENT"]) / "bin").mkdir(parents=True, exist_ok=True)
    for name in ("llama_cpp_python-0.3.36", "semantic_kernel-1.45.0"):
        info = site / f"{name}.dist-info"
        if not info.exists():
            package = site / name.split("-")[0]
            package.mkdir(parents=True, exist_ok=True)
            (package / "__init__.py").write_text("")
            info.mkdir()
            (info / "RECORD").write_text(f"{package.name}/__init__.py,,\\n{info.name}/RECORD,,\\n")
    # Like uv: a build made without pyproject's build variables is replaced.
    if "llama-cpp-python" not in args:
        (llama / "uv_build.json").write_text("portable")
elif args[:2] == ["pip", "uninstall"]:
    for name in args[4:]:
        for info in site.glob(f"{name}-*.dist-info"):
            shutil.rmtree(info)
elif args[:2] == ["pip", "install"]:
    code = int(os.environ.get("FAKE_UV_NATIVE_EXIT", "0"))
    if code == 0:
        (llama / "uv_build.json").write_text("native")
    sys.exit(code)
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the files the bootstrap reads, with the stand-in uv in .tools."""
    root = tmp_path / "with space" / "project"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "bootstrap.py", root / "scripts")
    shutil.copy(ROOT / "pyproject.toml", root)
    (root / "uv.lock").write_text(
        '[[package]]\nname = "llama-cpp-python"\nversion = "0.3.36"\n', encoding="utf-8"
    )
    uv = root / ".tools" / "bin" / "uv"
    uv.parent.mkdir(parents=True)
    uv.write_text(f"#!{sys.executable}\n{FAKE_UV}", encoding="utf-8")
    uv.chmod(0o755)
    return root


def bootstrap(
    root: Path, python: str = sys.executable, **variables: str
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "AGENT_HOST_NATIVE_LLAMA"}
    return subprocess.run(
        [python, str(root / "scripts" / "bootstrap.py")],
        cwd="/",
        env={**environment, **variables},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def uv_calls(root: Path) -> list[list[str]]:
    log = root / "uv-calls.jsonl"
    if not log.exists():
        return []
    calls = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    log.unlink()
    return [call for call in calls if call != ["--version"]]


def mark(root: Path) -> str | None:
    path = root / ".venv" / "agent-host-llama-build"
    return path.read_text(encoding="utf-8") if path.exists() else None


def site_packages(root: Path) -> Path:
    return root / ".venv" / "lib" / "python3.11" / "site-packages"


def test_a_second_run_only_syncs(project: Path) -> None:
    assert bootstrap(project).returncode == 0
    uv_calls(project)
    assert bootstrap(project).returncode == 0
    assert [call[0] for call in uv_calls(project)] == ["sync"]
    assert mark(project) == PORTABLE


def test_the_projects_own_modules_are_compiled_under_pythondontwritebytecode(
    project: Path,
) -> None:
    """Kills: the editable project left uncompiled, so every start compiled ``host``."""
    (project / "host").mkdir()
    (project / "host" / "api.py").write_text("VALUE = 1\n", encoding="utf-8")

    assert bootstrap(project, PYTHONDONTWRITEBYTECODE="1").returncode == 0

    compiled = project / "host" / "__pycache__"
    assert [path.name for path in compiled.glob("api.*.pyc")] == [
        f"api.{sys.implementation.cache_tag}.pyc"
    ]


def test_an_unknown_build_is_reinstalled_from_the_cache_not_rebuilt(project: Path) -> None:
    """Bug: --reinstall-package implies --refresh-package, an 8-minute source build.

    The mark is missing whenever a first run was interrupted after uv installed
    llama-cpp-python (during its bytecode compilation, most of the run).
    """
    assert bootstrap(project).returncode == 0
    (project / ".venv" / "agent-host-llama-build").unlink()
    uv_calls(project)
    assert bootstrap(project).returncode == 0
    calls = uv_calls(project)
    assert [
        "pip",
        "uninstall",
        "--python",
        str(project / ".venv" / "bin" / "python"),
        "llama_cpp_python",
    ] in calls
    assert not any(arg.startswith(("--reinstall", "--refresh")) for call in calls for arg in call)
    assert mark(project) == PORTABLE


def test_an_interrupted_native_build_is_not_recorded_as_portable(project: Path) -> None:
    assert bootstrap(project).returncode == 0
    failed = bootstrap(project, AGENT_HOST_NATIVE_LLAMA="1", FAKE_UV_NATIVE_EXIT="1")
    assert mark(project) is None
    assert failed.returncode == 1
    assert "native llama-cpp-python build failed" in failed.stderr
    uv_calls(project)
    assert bootstrap(project).returncode == 0
    assert any(call[:2] == ["pip", "uninstall"] for call in uv_calls(project))


def installed_build(root: Path) -> str:
    info = site_packages(root) / "llama_cpp_python-0.3.36.dist-info"
    return (info / "uv_build.json").read_text(encoding="utf-8")


def test_a_native_build_is_kept_by_a_native_rerun(project: Path) -> None:
    """Bug: uv sync swapped the native build for the portable one; the mark still said native."""
    assert bootstrap(project, AGENT_HOST_NATIVE_LLAMA="1").returncode == 0
    assert (mark(project), installed_build(project)) == ("native", "native")
    uv_calls(project)
    assert bootstrap(project, AGENT_HOST_NATIVE_LLAMA="1").returncode == 0
    assert (mark(project), installed_build(project)) == ("native", "native")
    assert [call[0] for call in uv_calls(project)] == ["sync"]
    assert bootstrap(project, AGENT_HOST_NATIVE_LLAMA="0").returncode == 0
    assert (mark(project), installed_build(project)) == (PORTABLE, "portable")


@pytest.mark.parametrize("value", ["true", "yes", "2", " 1"])
def test_a_native_setting_other_than_0_or_1_is_refused(project: Path, value: str) -> None:
    completed = bootstrap(project, AGENT_HOST_NATIVE_LLAMA=value)
    assert completed.returncode == 1
    assert "AGENT_HOST_NATIVE_LLAMA" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert uv_calls(project) == []


def test_a_package_missing_a_file_is_reinstalled(project: Path) -> None:
    """Bug: uv sync trusts a dist-info, so a deleted module stayed deleted on every rerun."""
    assert bootstrap(project).returncode == 0
    (site_packages(project) / "semantic_kernel" / "__init__.py").unlink()
    uv_calls(project)
    assert bootstrap(project).returncode == 0
    assert (site_packages(project) / "semantic_kernel" / "__init__.py").exists()
    uninstalls = [call for call in uv_calls(project) if call[:2] == ["pip", "uninstall"]]
    assert [call[4:] for call in uninstalls] == [["semantic_kernel"]]


def test_an_interrupt_is_one_line_not_a_traceback(project: Path) -> None:
    completed = bootstrap(project, FAKE_UV_INTERRUPT="1")
    assert completed.returncode == 130
    assert "interrupted; run this script again" in completed.stderr
    assert "Traceback" not in completed.stderr


def load_bootstrap() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bootstrap", ROOT / "scripts" / "bootstrap.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("script", "runs"),
    [
        ("", False),  # a stub pip left when interrupted
        ("#!/bin/sh\necho 'uv 0.12.0'\n", False),  # an older pin
        ("#!/bin/sh\nexit 1\n", False),
        ("#!/bin/sh\necho 'uv 0.13.9 (x86_64-unknown-linux-gnu)'\n", True),
    ],
)
def test_uv_counts_only_when_it_runs_as_the_pinned_version(
    tmp_path: Path, script: str, runs: bool
) -> None:
    """Bug: an existing .tools/bin/uv was trusted; a truncated one failed every rerun."""
    uv = tmp_path / "uv"
    uv.write_text(script, encoding="utf-8")
    uv.chmod(0o755)
    assert load_bootstrap().uv_runs(uv) is runs


def older_pythons() -> list[str]:
    """Pythons 3.6 to 3.10 found here (on PATH, or installed by pyenv) that really run."""
    candidates = {shutil.which(f"python3.{minor}") for minor in range(6, 11)}
    candidates |= {str(path) for path in Path.home().glob(".pyenv/versions/3.*/bin/python3")}
    older = []
    for python in sorted(path for path in candidates if path):
        probe = "import sys; print((3, 6) <= sys.version_info[:2] < (3, 11))"
        completed = subprocess.run([python, "-c", probe], capture_output=True, text=True)
        if completed.stdout.strip() == "True":
            older.append(python)
    return older


@pytest.mark.parametrize("python", older_pythons() or [pytest.param("", marks=pytest.mark.skip)])
def test_an_older_python_is_told_it_needs_3_11(project: Path, python: str) -> None:
    """Bug: on Python 3.6 (Ubuntu 18.04, RHEL 8) the script died with a SyntaxError."""
    completed = bootstrap(project, python=python)
    assert completed.returncode == 1
    assert "needs Python 3.11 or newer" in completed.stderr
    assert "Traceback" not in completed.stderr and "SyntaxError" not in completed.stderr
    assert uv_calls(project) == []
