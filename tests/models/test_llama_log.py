"""llama.cpp's log goes to logging, and loading a model leaves stdout and stderr to the process.

The slow tests run a child that loads the embedded model as the host does while a
thread of its own writes numbered lines to stdout and stderr, then asks for a reply
with a system message (which llama-cpp-python's Gemma format logs at DEBUG).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from typing import Any

import pytest

from host.models.llama_log import _to_logging

CHILD = textwrap.dedent(
    """
    import json, logging, sys, threading
    from host.models.llama_models import LlamaSettings, load_model

    logging.basicConfig(stream=sys.stderr)  # as the CLI: a handler on the root logger
    records = []
    kept = logging.Handler()
    kept.emit = lambda record: records.append(record.getMessage())
    host_log = logging.getLogger("agent_host")
    host_log.addHandler(kept)
    host_log.setLevel(logging.DEBUG)
    host_log.propagate = False

    loaded = threading.Event()
    written = 0

    def tick():
        global written
        while not loaded.is_set():
            written += 1
            print(f"tick {written}", flush=True)
            print(f"tick {written}", file=sys.stderr, flush=True)

    ticker = threading.Thread(target=tick)
    ticker.start()
    llama = load_model("local", LlamaSettings(prefix_store_mib=0)).llama
    loaded.set()
    ticker.join()
    llama.create_chat_completion(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        max_tokens=2,
    )
    print(json.dumps({"ticks": written, "records": records}))
    """
)


@dataclass(frozen=True)
class Child:
    stdout: str
    stderr: str
    report: dict[str, Any]


@pytest.fixture(scope="module")
def child() -> Child:
    done = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, check=False, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return Child(done.stdout, done.stderr, json.loads(done.stdout.splitlines()[-1]))


@pytest.mark.slow
@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_loading_and_replying_leave_the_output_to_the_process(child: Child, stream: str) -> None:
    """Kills hiding llama.cpp's output by redirecting fds 1 and 2 or ``sys.stderr``, as
    ``verbose=False`` does (ticks lost), and llama-cpp-python's verbose notes, log
    callback or DEBUG logger level left behind (lines that are no tick)."""
    lines = getattr(child, stream).splitlines()
    if stream == "stdout":
        lines.pop()  # the report
    ticks = child.report["ticks"]
    assert ticks > 0
    assert lines == [f"tick {n}" for n in range(1, ticks + 1)]


@pytest.mark.slow
def test_llama_cpps_log_reaches_the_host_logger_at_debug(child: Child) -> None:
    """Kills a callback that drops the log instead of handing it to logging."""
    records: list[str] = child.report["records"]
    assert any(record.startswith("llama.cpp: llama_model_loader: ") for record in records)


def test_a_line_logged_in_pieces_is_one_record(caplog: pytest.LogCaptureFixture) -> None:
    """Progress dots come one call each (level CONT, 5) and may be cut short by a new line."""
    caplog.set_level("DEBUG", logger="agent_host")
    pieces = [(2, b"load_tensors: CPU\n"), (5, b"."), (5, b"."), (1, b"repack: blk.0\n")]
    pieces += [(5, b"."), (5, b"\n"), (2, b"load: done\n")]

    for level, text in pieces:
        _to_logging(level, text, None)

    assert caplog.messages == [
        "llama.cpp: load_tensors: CPU",
        "llama.cpp: ..",
        "llama.cpp: repack: blk.0",
        "llama.cpp: .",
        "llama.cpp: load: done",
    ]
