"""The request the chat, tracing and run-store benches run, in a project of its own.

Three clauses, which the clause planner makes three steps of: two native functions,
then a prompt function on a scripted model (``m``). The config's model answers with
:data:`ANSWER` once (a chat started in a terminal reads it); :func:`echo_models` gives
one that answers at once, as often as asked, so a model's own time is left out.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from host.testing import ScriptedChatCompletion

PLUGIN = """
from semantic_kernel.functions import kernel_function


class Desk:
    plugin_name = "desk"

    @kernel_function(description="Fetch the value.")
    def fetch_value(self, query: str) -> str:
        return "1"

    @kernel_function(description="Double the number.")
    def double_number(self, query: str) -> str:
        return "2"
"""

ECHO = 'name: Echo\ntemplate: "Say {{$input}}"\ndescription: Say something.\n'

ANSWER = "The result is 2."

CONFIG = (
    "models:\n  m:\n    provider: scripted\n    model: s\n"
    f"    options: {{replies: ['{ANSWER}']}}\n"
    "plugins:\n  directories: [plugins]\nprompts:\n  directories: [prompts]\n"
    "runs:\n  database: runs.sqlite3\n  record: false\n"
)
"""Runs are not recorded by the host itself: ``run_store_overhead_ratio`` is that cost."""

REQUEST = "fetch the value, double the number, then say the result"


@contextlib.contextmanager
def project() -> Iterator[Path]:
    """A temporary project directory: the plugin, the prompt and ``host.yaml``."""
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / "plugins").mkdir()
        (root / "plugins" / "desk.py").write_text(PLUGIN)
        (root / "prompts" / "talk").mkdir(parents=True)
        (root / "prompts" / "talk" / "echo.yaml").write_text(ECHO)
        (root / "host.yaml").write_text(CONFIG)
        yield root


def echo_models() -> dict[str, ScriptedChatCompletion]:
    """The model ``m`` answering at once, as often as asked (it says its prompt back)."""
    return {"m": ScriptedChatCompletion.echo("m")}
