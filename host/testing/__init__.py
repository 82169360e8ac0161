"""Test doubles for agent-host and its plugin authors.

``ScriptedChatCompletion`` is an in-process SK chat service that plays back a
script of steps; ``OpenAICompatibleServer`` is a loopback HTTP server that
answers real OpenAI clients from a queue of responses, faults included
(``Hang``, ``SlowStream``, ``ConnectionReset``, ``MalformedBody``,
``HtmlPage``, ``TruncatedStream``, ``EmptyReply``, ``HttpError``); ``FaultyTool``
is a native plugin that fails, hangs or returns the wrong type on cue;
``VirtualClock`` makes waits take no real time. ``assert_step``, ``assert_steps``,
``assert_event``, ``assert_span`` and ``assert_span_tree`` check what a run did and
show it when they fail. Installing agent-host also registers the pytest plugin
:mod:`host.testing.plugin`, whose fixtures hand these out.
Importing this package starts nothing and imports neither SK nor aiohttp until
a name is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from host.testing.assertions import (
        CapturedSpans,
        assert_event,
        assert_span,
        assert_span_tree,
        assert_step,
        assert_steps,
        describe_run,
    )
    from host.testing.clock import VirtualClock, run_until
    from host.testing.faults import (
        Behaviour,
        Fail,
        FaultyTool,
        Return,
        Stall,
        fails_then_succeeds,
        hangs,
        raises,
        returns_wrong_type,
    )
    from host.testing.openai_server import (
        ChatReply,
        ChatRequest,
        ChatToolCall,
        ConnectionReset,
        EmptyReply,
        Hang,
        HtmlPage,
        HttpError,
        MalformedBody,
        OpenAICompatibleServer,
        ServerResponse,
        SlowStream,
        TruncatedStream,
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

_MODULES = {
    "assertions": [
        "CapturedSpans",
        "assert_event",
        "assert_span",
        "assert_span_tree",
        "assert_step",
        "assert_steps",
        "describe_run",
    ],
    "clock": ["VirtualClock", "run_until"],
    "faults": [
        "Behaviour",
        "Fail",
        "FaultyTool",
        "Return",
        "Stall",
        "fails_then_succeeds",
        "hangs",
        "raises",
        "returns_wrong_type",
    ],
    "openai_server": [
        "ChatReply",
        "ChatRequest",
        "ChatToolCall",
        "ConnectionReset",
        "EmptyReply",
        "Hang",
        "HtmlPage",
        "HttpError",
        "MalformedBody",
        "OpenAICompatibleServer",
        "ServerResponse",
        "SlowStream",
        "TruncatedStream",
    ],
    "scripted": [
        "Delay",
        "Raise",
        "RecordedRequest",
        "Reply",
        "ScriptExhaustedError",
        "ScriptedChatCompletion",
        "Step",
        "ToolCall",
        "ToolCalls",
    ],
}
_MODULE_OF = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [
    "Behaviour",
    "CapturedSpans",
    "ChatReply",
    "ChatRequest",
    "ChatToolCall",
    "ConnectionReset",
    "Delay",
    "EmptyReply",
    "Fail",
    "FaultyTool",
    "Hang",
    "HtmlPage",
    "HttpError",
    "MalformedBody",
    "OpenAICompatibleServer",
    "Raise",
    "RecordedRequest",
    "Reply",
    "Return",
    "ScriptExhaustedError",
    "ScriptedChatCompletion",
    "ServerResponse",
    "SlowStream",
    "Stall",
    "Step",
    "ToolCall",
    "ToolCalls",
    "TruncatedStream",
    "VirtualClock",
    "assert_event",
    "assert_span",
    "assert_span_tree",
    "assert_step",
    "assert_steps",
    "describe_run",
    "fails_then_succeeds",
    "hangs",
    "raises",
    "returns_wrong_type",
    "run_until",
]


def __getattr__(name: str) -> Any:
    """Import the defining module on first use of one of its names."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'host.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(f"host.testing.{module}"), name)
