"""Test doubles for agent-host and its plugin authors.

``ScriptedChatCompletion`` is an in-process SK chat service that plays back a
script of steps; ``OpenAICompatibleServer`` is a loopback HTTP server that
answers real OpenAI clients from a queue of responses. Importing this package
starts nothing and imports neither SK nor aiohttp until a name is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from host.testing.openai_server import (
        ChatReply,
        ChatRequest,
        ChatToolCall,
        HttpError,
        OpenAICompatibleServer,
        ServerResponse,
    )
    from host.testing.scripted import (
        Delay,
        Raise,
        RecordedRequest,
        Reply,
        ScriptedChatCompletion,
        ScriptExhaustedError,
        Step,
        ToolCall,
        ToolCalls,
    )

__all__ = [
    "ChatReply",
    "ChatRequest",
    "ChatToolCall",
    "Delay",
    "HttpError",
    "OpenAICompatibleServer",
    "Raise",
    "RecordedRequest",
    "Reply",
    "ScriptExhaustedError",
    "ScriptedChatCompletion",
    "ServerResponse",
    "Step",
    "ToolCall",
    "ToolCalls",
]

_SERVER_NAMES = frozenset(
    {
        "ChatReply",
        "ChatRequest",
        "ChatToolCall",
        "HttpError",
        "OpenAICompatibleServer",
        "ServerResponse",
    }
)


def __getattr__(name: str) -> Any:
    """Import the defining module on first use of one of its names."""
    if name not in __all__:
        raise AttributeError(f"module 'host.testing' has no attribute {name!r}")
    module = "openai_server" if name in _SERVER_NAMES else "scripted"
    return getattr(importlib.import_module(f"host.testing.{module}"), name)
