"""The host.testing package: public names, and an import that starts nothing."""

import subprocess
import sys

import host.testing

PUBLIC = [
    "ChatReply",
    "ChatToolCall",
    "Delay",
    "HttpError",
    "OpenAICompatibleServer",
    "Raise",
    "RecordedRequest",
    "Reply",
    "ScriptedChatCompletion",
    "ToolCall",
    "ToolCalls",
    "assert_event",
    "assert_step",
]


def test_the_public_names_are_exported() -> None:
    assert set(PUBLIC) <= set(host.testing.__all__)
    assert all(getattr(host.testing, name) is not None for name in host.testing.__all__)


def test_importing_the_package_loads_neither_sk_nor_aiohttp() -> None:
    probe = (
        "import sys, host.testing; "
        "print(sorted({'semantic_kernel', 'aiohttp', 'host.state'} & set(sys.modules)))"
    )

    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()

    assert loaded == "[]"
