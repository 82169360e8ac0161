"""Whether this machine's llama.cpp build can run a GGUF file, found out once in a child process.

A llama.cpp built for another CPU (``-march=native`` on a machine whose CPU
advertises AMX that its VM cannot run) dies by SIGILL at its first matrix
product, and would take the host down with it. So before a model file is
first loaded in process, a short generation runs in a child; its verdict is
kept per (model file, llama-cpp build) under the user's cache directory, so
the probe costs once per machine and build. A failed verdict makes the
``local`` provider raise :class:`~host.errors.ProviderError` and routing
leave the model out, so other models and fallbacks still serve.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

PROBE_TIMEOUT = 300.0
"""Seconds the child may take to load the model and generate a few tokens."""

REMEDY = (
    "llama-cpp-python was built for another CPU; reinstall it portably "
    "(python3 scripts/bootstrap.py, or CMAKE_ARGS='-DGGML_NATIVE=OFF' "
    "pip install --force-reinstall --no-cache-dir llama-cpp-python)"
)

_verdicts: dict[str, str | None] = {}
"""Verdicts known to this process, by key: ``None`` when the build runs the file."""
_lock = threading.Lock()


def check_runs(path: Path) -> str | None:
    """Why this build cannot run the GGUF at ``path``, or ``None`` when it can (probing once).

    Blocking: call it from a worker thread. A child that does not finish in
    time is reported but not remembered, since a loaded machine may be why.
    """
    key = build_key(path)
    with _lock:
        if key in _verdicts:
            return _verdicts[key]
        stored = _read(key)
        if stored is not None:
            _verdicts[key] = stored or None
            return stored or None
        verdict, lasting = _probe(path)
        if lasting:
            _verdicts[key] = verdict
            _write(key, verdict or "")
        return verdict


def known_failure(path: Path) -> str | None:
    """A failed verdict already on record for ``path`` with this build, without probing."""
    key = build_key(path)
    with _lock:
        if key in _verdicts:
            return _verdicts[key]
    return _read(key) or None


def _probe(path: Path) -> tuple[str | None, bool]:
    """Run the child; the verdict, and whether it may be remembered."""
    command = [sys.executable, "-m", "host.models.llama_probe", str(path)]
    try:
        child = subprocess.run(
            command, capture_output=True, text=True, timeout=PROBE_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        return f"llama.cpp did not finish a test generation in {PROBE_TIMEOUT:.0f} s", False
    if child.returncode == 0:
        return None, True
    if child.returncode < 0:
        name = _signal_name(-child.returncode)
        return f"llama.cpp crashed with {name} running {path.name}: {REMEDY}", True
    last = (child.stderr.strip().splitlines() or ["no message"])[-1]
    return f"cannot run {path.name} as a GGUF model with this llama.cpp build ({last})", True


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def build_key(path: Path) -> str:
    """A digest of the model file's identity and the installed llama-cpp build's files."""
    parts = [_identity(path.resolve())]
    spec = importlib.util.find_spec("llama_cpp")
    if spec is not None and spec.origin is not None:
        package = Path(spec.origin).parent
        parts += [_identity(file) for file in sorted(package.glob("lib/*"))]
        parts.append(_identity(package / "__init__.py"))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def _identity(path: Path) -> str:
    try:
        stat = path.stat()
    except OSError:
        return f"{path} missing"
    return f"{path} {stat.st_size} {stat.st_mtime_ns}"


def cache_dir(name: str) -> Path:
    """``name``'s folder in the user's cache directory (``$XDG_CACHE_HOME`` or ``~/.cache``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "agent-host" / name


def _store() -> Path:
    return cache_dir("llama-probe")


def _read(key: str) -> str | None:
    """The stored verdict (``""`` for a pass), or ``None`` when there is none readable."""
    try:
        data = json.loads((_store() / f"{key}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    failure = data.get("failure") if isinstance(data, dict) else None
    return failure if isinstance(failure, str) else None


def _write(key: str, failure: str) -> None:
    """Store a verdict atomically; a read-only cache only costs a probe next time."""
    store = _store()
    try:
        store.mkdir(parents=True, exist_ok=True)
        temporary = store / f"{key}.{os.getpid()}.tmp"
        temporary.write_text(json.dumps({"failure": failure}), encoding="utf-8")
        temporary.replace(store / f"{key}.json")
    except OSError:
        pass


def _generate_a_little(model_path: str) -> None:
    """The child's work: load the model and generate a few tokens, as the host would."""
    from llama_cpp import Llama

    llama = Llama(model_path=model_path, n_ctx=256, verbose=False)
    llama.create_completion("The weather today is", max_tokens=4, temperature=0.0)
    llama.close()


if __name__ == "__main__":
    _generate_a_little(sys.argv[1])
