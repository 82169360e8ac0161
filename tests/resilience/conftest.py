"""Shared set-up for the resilience specifications: config files, faulty tools, fault servers.

Each test writes its own ``host.yaml`` (``resilience_kit.write_config``), registers the
:class:`~host.testing.FaultyTool` instances it scripts (``tool_plugins``), and
starts the loopback servers it needs (``serve``), all stopped after the test.
"""

from __future__ import annotations

import sys
import types
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from resilience_kit import API_KEY_ENV

from host.testing import FaultyTool, OpenAICompatibleServer, ServerResponse, VirtualClock

_REGISTRY = "resilience_tools_under_test"
"""A module, put into ``sys.modules`` per test, through which plugin files find the test's tools."""

_PLUGIN_FILE = """\
from host.testing import FaultyTool
import {registry} as registry


class Registered(FaultyTool):
    \"\"\"Loads as the test's own ``{name}`` tool: the test scripts it and counts calls.\"\"\"

    plugin_name = "{name}"

    def __new__(cls) -> FaultyTool:  # type: ignore[misc]
        return registry.{name}
"""


@pytest.fixture
def clock() -> VirtualClock:
    """Virtual time: every backoff, timeout and cool-down takes no real time."""
    return VirtualClock()


@pytest.fixture
def tool_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """``tool_plugins(faulty=FaultyTool(...), backup=...)``: a plugin directory loading them.

    The host loads plugin classes from files and builds them itself; each file
    written here builds the very instance the test passed, under that name.
    """
    registry = types.ModuleType(_REGISTRY)
    monkeypatch.setitem(sys.modules, _REGISTRY, registry)
    directory = tmp_path / "plugins"
    directory.mkdir()

    def load(**tools: FaultyTool) -> Path:
        for name, tool in tools.items():
            setattr(registry, name, tool)
            source = _PLUGIN_FILE.format(registry=_REGISTRY, name=name)
            (directory / f"{name}.py").write_text(source, encoding="utf-8")
        return directory

    return load


@pytest.fixture
def openai_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """The variable the loopback model rows name as their key."""
    monkeypatch.setenv(API_KEY_ENV, "sk-loopback")


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[OpenAICompatibleServer]]]:
    """``await serve(*responses, default=...)``: a running loopback server, stopped after."""
    servers: list[OpenAICompatibleServer] = []

    async def start(
        *responses: ServerResponse, default: ServerResponse | None = None
    ) -> OpenAICompatibleServer:
        server = OpenAICompatibleServer(responses, default=default)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()
