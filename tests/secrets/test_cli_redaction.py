"""``agent-host`` in a real subprocess prints no secret: not in errors, replies or JSON."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from secrets_kit import PLACEMENTS, Placement, files_holding, new_secret, rejected, write_host

from host.testing import ChatReply, OpenAICompatibleServer, ServerResponse
from tests.conftest import ROOT

pytestmark = pytest.mark.reliability


def echoed(secret: str) -> ChatReply:
    """A reply that repeats the secret: what the CLI prints of a success is masked too."""
    return ChatReply(f"Your key is {secret}.")


CASES = [
    pytest.param(respond, flags, status, id=f"{name} {' '.join(flags) or 'text'}")
    for name, respond, status in [("401", rejected, 2), ("echo", echoed, 0)]
    for flags in [(), ("--json",), ("--debug",)]
]


async def agent_host(cwd: Path, environment: dict[str, str], *args: str) -> tuple[int, str, str]:
    """Run the CLI without blocking the loop that serves the model; (status, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "host",
        *args,
        cwd=cwd,
        env={**os.environ, **environment, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.parametrize("placement", PLACEMENTS, ids=lambda placement: placement.name)
@pytest.mark.parametrize(("respond", "flags", "status"), CASES)
async def test_invoke_prints_and_stores_no_secret(
    tmp_path: Path,
    placement: Placement,
    respond: Callable[[str], ServerResponse],
    flags: tuple[str, ...],
    status: int,
) -> None:
    secret = new_secret()
    environment, dotenv = placement.variables(secret)
    async with OpenAICompatibleServer([respond(secret)], default=None) as server:
        config = write_host(tmp_path, server.base_url, dotenv)
        command = ["invoke", "talk.Echo", "input=hi", "--model", "hosted", "--config", str(config)]
        code, out, err = await agent_host(tmp_path, environment, *command, *flags)

    assert code == status, err
    assert "***" in out + err  # the secret was there to mask
    if "--debug" in flags and status:  # the traceback is shown, masked like the rest
        assert "Traceback (most recent call last)" in err
    assert secret not in out and secret not in err
    assert files_holding(tmp_path, secret) == []
