"""A mail plugin that can stop dead at a chosen point, and helpers to SIGKILL a host there.

``mail.send`` is the shipped email plugin's ``send`` (idempotent by key: its
outbox file is named by the key); ``mail.post`` appends a line to a ledger file
and is not idempotent by key; ``mail.hold`` runs after either. With
``$CRASH_STOP_AT`` set to ``before`` (intent recorded, nothing done),
``between`` (effect done, outcome not recorded) or ``after`` (outcome recorded,
the next step running), the process writes the point to the signal file and
waits there until the test kills it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

PLUGIN = """\
import asyncio
from pathlib import Path

from semantic_kernel.functions import kernel_function

from host.effects import side_effects
from plugins.email import EmailPlugin


class Mail(EmailPlugin):
    plugin_name = "mail"

    def __init__(self, *, ledger: str, signal: str, stop_at: str = "", **settings: str) -> None:
        super().__init__(**settings)
        self._ledger, self._signal, self._stop_at = Path(ledger), Path(signal), stop_at

    async def _stop(self, point: str) -> None:
        if self._stop_at == point:
            self._signal.write_text(point)
            await asyncio.sleep(3600)

    @side_effects
    @kernel_function(name="send", description="Send an email, once per key.")
    async def send(self, to: str, subject: str, body: str, idempotency_key: str = "") -> str:
        await self._stop("before")
        receipt = await EmailPlugin.send(self, to, subject, body, idempotency_key)
        await self._stop("between")
        return receipt

    @side_effects
    @kernel_function(name="post", description="Post a note to the ledger.")
    async def post(self, text: str) -> str:
        await self._stop("before")
        with self._ledger.open("a") as ledger:
            ledger.write(text + "\\n")
        await self._stop("between")
        return f"posted {text}"

    @kernel_function(name="hold", description="Run after the effect.")
    async def hold(self) -> str:
        await self._stop("after")
        return "held"

    @kernel_function(name="draft", description="Draft a text.")
    async def draft(self) -> str:
        return "draft"
"""

EXECUTE = """\
import asyncio, json, sys
from host import AgentHost

async def main() -> None:
    config, plan, run_id = sys.argv[1:]
    async with AgentHost(config) as host:
        await host.execute(json.loads(plan), run_id=run_id)

asyncio.run(main())
"""


def write_mail_host(tmp_path: Path) -> Path:
    """A config loading the Mail plugin over ``tmp_path`` (outbox, ledger, signal, runs.sqlite3);
    ``mail.draft`` hands off to a person unless its output starts with OK."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "mail.py").write_text(PLUGIN)
    config = tmp_path / "host.yaml"
    config.write_text(
        "models:\n  local:\n    provider: scripted\n    model: s\n"
        "tools:\n  mail:\n    settings:\n"
        f"      outbox: {tmp_path / 'outbox'}\n      ledger: {tmp_path / 'ledger.txt'}\n"
        f"      signal: {tmp_path / 'signal'}\n"
        "      stop_at: ${CRASH_STOP_AT:-}\n"
        f"plugins:\n  directories: [{plugins}]\n"
        f"runs:\n  database: {tmp_path / 'runs.sqlite3'}\n"
        "validation:\n  mail.draft:\n    regex: '^OK'\n    on_fail: [human]\n"
        "    question: What should the mail say?\n"
    )
    return config


def effects(tmp_path: Path) -> tuple[int, int]:
    """How many messages the outbox holds and how many lines the ledger has."""
    outbox = tmp_path / "outbox"
    ledger = tmp_path / "ledger.txt"
    sent = len(list(outbox.glob("*.eml"))) if outbox.exists() else 0
    posted = len(ledger.read_text().splitlines()) if ledger.exists() else 0
    return sent, posted


def killed_at(tmp_path: Path, stop_at: str, command: list[str]) -> None:
    """Run ``command`` (arguments after ``python``) with ``$CRASH_STOP_AT=stop_at`` from
    ``tmp_path``, wait until it signals that point, and SIGKILL it there."""
    marker = tmp_path / "signal"
    marker.unlink(missing_ok=True)
    environment = {**os.environ, "CRASH_STOP_AT": stop_at}
    child = subprocess.Popen(
        [sys.executable, *command],
        cwd=tmp_path,
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        while not marker.exists():
            if child.poll() is not None:
                assert child.stderr is not None
                problem = child.stderr.read().decode()
                raise AssertionError(f"the host exited before {stop_at}: {problem}")
            time.sleep(0.02)
        assert marker.read_text() == stop_at
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
        assert child.stderr is not None
        child.stderr.close()


def execute_command(config: Path, plan: dict[str, Any], run_id: str) -> list[str]:
    """The arguments after ``python`` that execute ``plan`` as ``run_id`` in a fresh host."""
    return ["-c", EXECUTE, str(config), json.dumps(plan), run_id]


def resume_command(config: Path, run_id: str, answer: str) -> list[str]:
    """The arguments after ``python`` that resume ``run_id`` through the CLI."""
    return ["-m", "host", "resume", run_id, answer, "--config", str(config)]
