"""``agent-host chat`` in a real pseudo-terminal: a scripted host and a reader of the screen."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pexpect

AGENT_HOST = Path(sys.executable).with_name("agent-host")

DESK = """\
import asyncio

from semantic_kernel.functions import kernel_function


class Desk:
    plugin_name = "desk"

    @kernel_function(description="Greet a visitor.")
    def greet(self, visitor: str) -> str:
        return f"Hello, {visitor}!"

    @kernel_function(description="Count the visitors, slowly.")
    async def count(self, query: str) -> str:
        await asyncio.sleep(600)
        return "42"
"""
"""``desk.greet`` answers at once; ``desk.count`` takes ten minutes (a test cancels it)."""

ECHO = 'name: Echo\ntemplate: "Say {{$input}}"\ndescription: Say something.\n'

QUESTION = "The reply lacks 'there'. What should it say?"


def write_config(tmp_path: Path, *, replies: tuple[str, ...] = ("hi",), models: str = "") -> Path:
    """``host.yaml``: model ``local`` (scripted ``replies``, 1 and 2 per 1,000 tokens) and
    ``models`` rows, plugin ``desk``, prompt ``talk.Echo`` whose reply must contain "there"
    (else a person is asked), runs and sessions in ``runs.sqlite3``."""
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "desk.py").write_text(DESK)
    (tmp_path / "prompts" / "talk").mkdir(parents=True)
    (tmp_path / "prompts" / "talk" / "echo.yaml").write_text(ECHO)
    config = tmp_path / "host.yaml"
    config.write_text(
        "models:\n  local:\n    provider: scripted\n    model: s\n"
        f"    options: {{replies: {json.dumps(list(replies))}}}\n"
        "    cost: {input: 1.0, output: 2.0}\n" + models + "plugins:\n  directories: [plugins]\n"
        "prompts:\n  directories: [prompts]\n"
        "runs:\n  database: runs.sqlite3\n"
        "validation:\n  talk.Echo:\n    regex: there\n    on_fail: [human]\n"
        f"    question: {json.dumps(QUESTION)}\n"
    )
    return config


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The child's environment: its own home, a plain wide xterm, no cursor-position queries."""
    return {
        **os.environ,
        "HOME": str(tmp_path / "home"),
        "TERM": "xterm",
        "COLUMNS": "200",
        "LINES": "50",
        "PROMPT_TOOLKIT_NO_CPR": "1",
        **extra,
    }


_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[()][0-9A-Za-z]|\x1b[=>]|\r")


_PROMPT_STARTS = "\x1b[?2004h"
"""What prompt_toolkit writes as each prompt starts (bracketed paste on)."""


class Terminal:
    """``agent-host chat`` in a 200 x 50 pseudo-terminal, read as text (escapes removed)."""

    def __init__(self, config: Path, *args: str, env: dict[str, str]) -> None:
        self.child = pexpect.spawn(
            str(AGENT_HOST),
            ["chat", "--config", str(config), *args],
            env=env,
            encoding="utf-8",
            dimensions=(50, 200),
            timeout=120,
        )
        self._raw = ""
        self._read = 0
        """How much of the screen text :meth:`wait_for` has read past."""
        self._prompts = 0
        """How many prompts :meth:`ready` has seen."""

    @property
    def text(self) -> str:
        """Everything shown so far, escapes removed."""
        return _ESCAPES.sub("", self._raw)

    def wait_for(self, wanted: str, timeout: float = 120) -> str:
        """Read until ``wanted`` shows after what was read before; what came up to it."""
        deadline = time.monotonic() + timeout
        while (found := self.text.find(wanted, self._read)) < 0:
            self._more(wanted, deadline)
        before, self._read = self.text[self._read : found], found + len(wanted)
        return before

    def ready(self, timeout: float = 120) -> None:
        """Wait for the next prompt (the chat's, or a hand-off's answer)."""
        deadline = time.monotonic() + timeout
        while (shown := self._raw.count(_PROMPT_STARTS)) <= self._prompts:
            self._more("a prompt", deadline)
        self._prompts = shown

    def _more(self, wanted: str, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(
                f"{wanted!r} not shown; the screen ends with:\n{self.text[-2000:]}"
            )
        with contextlib.suppress(pexpect.TIMEOUT):
            self._raw += self.child.read_nonblocking(65536, timeout=min(left, 1.0))

    def send(self, line: str) -> None:
        """Type ``line`` at the prompt and press Enter."""
        self.ready()
        self.child.send(line + "\r")

    def leave(self) -> int:
        """Press Ctrl-D at the prompt; the exit status."""
        self.ready()
        self.child.sendcontrol("d")
        self.child.expect(pexpect.EOF)
        self._raw += self.child.before or ""
        self.child.close()
        assert self.child.exitstatus is not None, self.text[-2000:]
        return self.child.exitstatus


def recorded_runs(config: Path, env: dict[str, str]) -> list[dict[str, object]]:
    """``agent-host runs --json`` for ``config``."""
    listed = subprocess.run(
        [str(AGENT_HOST), "runs", "--json", "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    runs: list[dict[str, object]] = json.loads(listed.stdout)
    return runs
