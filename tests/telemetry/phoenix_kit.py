"""Arize Phoenix for a test: ``phoenix serve`` on free loopback ports, and its spans read back.

:func:`running_phoenix` starts the server in its own process group with a
temporary working directory (its SQLite database and log live there), waits
until ``GET /readyz`` answers, and stops the whole group when the block ends.
The server is kept offline: no telemetry pixels, no external web resources, no
code sandboxes or their binary download, no agent assistant, no MCP server.
Phoenix's own HTTP listener is on 127.0.0.1; its OTLP/gRPC listener binds every
interface (Phoenix has no setting for that address), on a free port.

Spans land in the project named by the ``openinference.project.name`` resource
attribute, or by an ``x-project-name`` header on the export; otherwise in
``default`` (``service.name`` does not choose it). Phoenix turns ``gen_ai.*``
attributes into OpenInference ones as it ingests: a ``chat`` span becomes kind
``LLM`` with ``llm.model_name`` (the request model) and ``llm.token_count.*``;
``execute_tool`` becomes ``TOOL``; ``invoke_agent`` becomes ``AGENT``; any other
span is ``UNKNOWN`` unless it sets ``openinference.span.kind`` itself.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

_OFFLINE = {
    "PHOENIX_HOST": "127.0.0.1",
    "PHOENIX_TELEMETRY_ENABLED": "false",
    "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false",
    "PHOENIX_ALLOWED_SANDBOX_PROVIDERS": "NONE",
    "PHOENIX_DISABLE_AGENT_ASSISTANT": "true",
    "PHOENIX_ENABLE_MCP_SERVER": "false",
    "PHOENIX_LOG_MIGRATIONS": "false",
}
"""Settings that keep a test's server on loopback and off the internet."""

_LOOPBACK = urllib.request.build_opener(urllib.request.ProxyHandler({}))
"""Requests to the local server never go through a configured proxy."""


class PhoenixError(RuntimeError):
    """Phoenix did not start, or did not hold the spans a test waited for."""


@dataclass(frozen=True)
class PhoenixServer:
    """A running ``phoenix serve``: where to export to and where to read from."""

    base_url: str
    """``http://127.0.0.1:<port>``: the UI, ``/v1`` REST API and ``/graphql``."""
    otlp_http_endpoint: str
    """OTLP/HTTP protobuf traces endpoint, ``<base_url>/v1/traces``."""
    otlp_grpc_endpoint: str
    """OTLP/gRPC endpoint, ``http://127.0.0.1:<grpc port>``."""
    working_dir: Path
    log_path: Path


def phoenix_command(executable: str | Path | None = None) -> list[str]:
    """The command that runs Phoenix's CLI; skips the calling test when Phoenix is missing.

    ``executable`` is a ``phoenix`` script or a Python interpreter that has
    ``arize-phoenix`` installed. By default: the ``phoenix`` script beside this
    interpreter (``uv sync --group phoenix``), else ``phoenix`` on ``PATH``.
    """
    if executable is None:
        beside = Path(sys.executable).with_name("phoenix")
        found = str(beside) if beside.is_file() else shutil.which("phoenix")
        if found is None:
            pytest.skip("arize-phoenix is not installed (uv sync --group phoenix)")
        return [found]
    path = Path(executable)
    if not path.is_file():
        pytest.skip(f"no Phoenix executable at {path}")
    if not path.name.startswith("python"):
        return [str(path)]
    probe = "import importlib.metadata as m; m.version('arize-phoenix')"
    if subprocess.run([str(path), "-c", probe], capture_output=True, check=False).returncode:
        pytest.skip(f"arize-phoenix is not installed for {path}")
    return [str(path), "-m", "phoenix.server.main"]


@contextmanager
def running_phoenix(
    command: Sequence[str], working_dir: Path, *, startup_timeout: float = 120.0
) -> Iterator[PhoenixServer]:
    """Run ``<command> serve`` until the block ends; its database and log go in ``working_dir``.

    Raises :class:`PhoenixError`, with the server's log, if it exits or is not
    ready within ``startup_timeout`` seconds. On exit the process group gets
    SIGTERM, then SIGKILL if it is still there after 15 seconds.
    """
    http_port, grpc_port = _free_loopback_ports(2)
    working_dir.mkdir(parents=True, exist_ok=True)
    # Phoenix < 20.7 downloads a CPython WASM binary at start whatever the sandbox
    # settings unless given one (non-empty); with sandboxes off the stand-in never runs.
    no_wasm = working_dir / "no-wasm-sandbox"
    no_wasm.write_text("not a WASM binary: code sandboxes are off\n", encoding="utf-8")
    server = PhoenixServer(
        base_url=f"http://127.0.0.1:{http_port}",
        otlp_http_endpoint=f"http://127.0.0.1:{http_port}/v1/traces",
        otlp_grpc_endpoint=f"http://127.0.0.1:{grpc_port}",
        working_dir=working_dir,
        log_path=working_dir / "phoenix.log",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PHOENIX_", "OTEL_"))}
    env |= _OFFLINE | {
        "PHOENIX_PORT": str(http_port),
        "PHOENIX_GRPC_PORT": str(grpc_port),
        "PHOENIX_WORKING_DIR": str(working_dir),
        "PHOENIX_WASM_BINARY_PATH": str(no_wasm),
    }
    with server.log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, "serve"],
            cwd=working_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_until_ready(process, server, startup_timeout)
        yield server
    finally:
        _stop(process)


def read_spans(
    base_url: str, project: str, *, min_count: int = 1, timeout: float = 30.0
) -> list[dict[str, Any]]:
    """Every span of ``project`` from ``GET /v1/projects/{project}/spans``, in Phoenix's order.

    Phoenix stores exported spans in batches, so this asks again until the
    project holds at least ``min_count`` spans, and raises :class:`PhoenixError`
    (naming the projects it has) after ``timeout`` seconds. Each span is a dict
    with ``name``, ``context`` (``trace_id``, ``span_id``), ``parent_id``,
    ``span_kind``, ``status_code``, ``status_message``, ``start_time``,
    ``end_time``, ``attributes`` (flat dotted keys) and ``events``.
    """
    deadline = time.monotonic() + timeout
    path = f"/v1/projects/{urllib.parse.quote(project, safe='')}/spans"
    while True:
        spans = _all_pages(base_url, path)
        if len(spans) >= min_count:
            return spans
        if time.monotonic() >= deadline:
            projects = [p["name"] for p in _all_pages(base_url, "/v1/projects")]
            raise PhoenixError(
                f"project {project!r} holds {len(spans)} span(s) after {timeout:g}s, "
                f"expected at least {min_count}; projects: {projects}"
            )
        time.sleep(0.2)


def _all_pages(base_url: str, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {"limit": "1000"} | ({"cursor": cursor} if cursor else {})
        url = f"{base_url}{path}?{urllib.parse.urlencode(query)}"
        try:
            with _LOOPBACK.open(url, timeout=10) as response:
                page = json.load(response)
        except urllib.error.HTTPError as error:
            if error.code == 404:  # the project has no span yet
                return []
            raise
        items.extend(page["data"])
        cursor = page.get("next_cursor")
        if not cursor:
            return items


def _free_loopback_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _wait_until_ready(
    process: subprocess.Popen[bytes], server: PhoenixServer, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with _LOOPBACK.open(f"{server.base_url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:  # not listening yet, or 503 while the database starts
            pass
        try:
            code = process.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            continue
        raise PhoenixError(f"phoenix serve exited with {code} before it was ready{_tail(server)}")
    raise PhoenixError(f"phoenix serve was not ready within {timeout:g}s{_tail(server)}")


def _tail(server: PhoenixServer, lines: int = 60) -> str:
    text = server.log_path.read_text(encoding="utf-8", errors="replace")
    return f"; last lines of {server.log_path}:\n" + "\n".join(text.splitlines()[-lines:])


def _stop(process: subprocess.Popen[bytes]) -> None:
    with suppress(ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    with suppress(ProcessLookupError):  # whatever of the group is still there
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
