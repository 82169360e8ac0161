"""The code-review team's tester (``examples/code_review/plugins/code_tests.py``): real
subprocesses in real temporary directories, no network, no inherited secrets."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from semantic_kernel import Kernel

from host.plugins import PluginLoader
from host.sources import SourceReport

ROOT = Path(__file__).resolve().parents[2]
PLUGINS_DIR = ROOT / "examples" / "code_review" / "plugins"

CODE = "def add(a, b):\n    return a + b\n"
PASSING = """\
import unittest
from solution import add

class AddTests(unittest.TestCase):
    def test_small(self):
        self.assertEqual(add(1, 2), 3)

    def test_negative(self):
        self.assertEqual(add(-1, -2), -3)
"""


def _load() -> ModuleType:
    name = "code_tests_under_test"
    spec = importlib.util.spec_from_file_location(name, PLUGINS_DIR / "code_tests.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


code_tests = _load()


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """The directory the plugin makes its temporary test directories in."""
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
def tester(work: Path) -> Any:
    return code_tests.CodeTestsPlugin(timeout=20, temp_root=str(work))


def _tests(body: str, imports: str = "") -> str:
    """A unittest module with one test method whose body is ``body``."""
    indented = "".join(f"        {line}\n" for line in body.splitlines())
    header = f"import unittest\n{imports}\n\nclass Checks(unittest.TestCase):\n"
    return f"{header}    def test_it(self):\n{indented}"


def _entries(directory: Path) -> list[Path]:
    return list(directory.iterdir())


def _text(path: Path) -> str:
    return path.read_text() if path.exists() else ""


async def _run(tester: Any, code: str, tests: str) -> dict[str, Any]:
    answer: dict[str, Any] = json.loads(await tester.run_tests(code, tests))
    assert set(answer) == {"signal", "passed", "failed", "failures", "output"}
    return answer


async def test_passing_tests_give_tests_passed_with_counts_and_leave_no_directory(
    tester: Any, work: Path
) -> None:
    answer = await _run(tester, CODE, PASSING)
    assert answer["signal"] == "tests_passed"
    assert (answer["passed"], answer["failed"], answer["failures"]) == (2, 0, [])
    assert "Ran 2 tests" in answer["output"]
    assert _entries(work) == []


async def test_a_failing_assertion_names_the_test_and_its_message(tester: Any) -> None:
    tests = (
        PASSING + "\n    def test_wrong(self):\n        self.assertEqual(add(2, 2), 5, 'bad sum')\n"
    )
    answer = await _run(tester, CODE, tests)
    assert answer["signal"] == "tests_failed"
    assert (answer["passed"], answer["failed"]) == (2, 1)
    assert answer["failures"] == [
        "test_solution.AddTests.test_wrong: AssertionError: 4 != 5 : bad sum"
    ]


@pytest.mark.parametrize(
    ("code", "tests", "expected"),
    [
        ("def add(a, b)\n    return a + b\n", PASSING, "solution.py line 1: SyntaxError"),
        (CODE, "import unittest\nclass (unittest.TestCase): pass\n", "test_solution.py line 2"),
        ("   \n", PASSING, "solution.py is empty"),
        (CODE, "", "test_solution.py is empty"),
    ],
)
async def test_code_or_tests_that_cannot_run_are_tests_failed_not_errors(
    tester: Any, code: str, tests: str, expected: str
) -> None:
    answer = await _run(tester, code, tests)
    assert answer["signal"] == "tests_failed"
    assert (answer["passed"], answer["failed"]) == (0, 0)
    assert len(answer["failures"]) == 1
    assert answer["failures"][0].startswith(expected)


async def test_an_import_error_in_the_code_fails_the_test_module(tester: Any) -> None:
    answer = await _run(tester, "import no_such_module_here\n" + CODE, PASSING)
    assert answer["signal"] == "tests_failed"
    assert answer["failures"] == [
        "test_solution: cannot import: ModuleNotFoundError: No module named 'no_such_module_here'"
    ]


async def test_no_tests_collected_is_tests_failed(tester: Any) -> None:
    answer = await _run(
        tester, CODE, "from solution import add\n\ndef test_add():\n    assert add(1, 2) == 3\n"
    )
    assert answer["signal"] == "tests_failed"
    assert answer["failures"][0].startswith("no tests ran")


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        yield server


async def test_the_code_under_test_cannot_connect_even_to_loopback(
    tester: Any, listener: socket.socket
) -> None:
    port = listener.getsockname()[1]
    body = f"socket.create_connection(('127.0.0.1', {port}), timeout=5).close()"
    answer = await _run(tester, CODE, _tests(body, imports="import socket"))
    assert answer["signal"] == "tests_failed"
    assert answer["failed"] == 1
    [failure] = answer["failures"]
    assert failure.startswith("test_solution.Checks.test_it: PermissionError:")
    assert "network access is blocked while testing" in failure
    with pytest.raises(BlockingIOError):
        listener.accept()  # nothing ever connected


async def test_the_code_under_test_cannot_start_a_process(tester: Any) -> None:
    body = "subprocess.run([sys.executable, '-c', 'pass'], check=True)"
    answer = await _run(tester, CODE, _tests(body, imports="import subprocess, sys"))
    assert answer["signal"] == "tests_failed"
    assert "starting a process is blocked while testing" in answer["failures"][0]


async def test_a_hung_test_times_out_is_killed_and_its_directory_removed(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(code_tests, "TIMEOUT_SECONDS", 1.0)
    tester = code_tests.CodeTestsPlugin(temp_root=str(work))
    body = "print('started', flush=True)\ntime.sleep(60)"
    start = time.monotonic()
    answer = await _run(tester, CODE, _tests(body, imports="import time"))
    assert time.monotonic() - start < 15
    assert answer["signal"] == "tests_failed"
    assert answer["failures"] == ["timed out after 1 s: the test process was killed"]
    assert "started" in answer["output"]
    assert _entries(work) == []


async def test_cancelling_the_call_kills_the_run_and_removes_its_directory(
    tester: Any, work: Path, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    body = f"pathlib.Path({str(pid_file)!r}).write_text(str(os.getpid()))\ntime.sleep(60)"
    tests = _tests(body, imports="import os, pathlib, time")
    call = asyncio.ensure_future(tester.run_tests(CODE, tests))
    for _ in range(300):  # up to 15 s for the test to start
        if _text(pid_file):
            break
        await asyncio.sleep(0.05)
    assert len(_entries(work)) == 1
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert _entries(work) == []
    with pytest.raises(ProcessLookupError):
        os.kill(int(_text(pid_file)), 0)


async def test_the_parents_secrets_are_not_visible_to_the_code_under_test(
    tester: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-sentinel")
    monkeypatch.setenv("AGENT_HOST_EXAMPLE_TOKEN", "sk-sentinel")
    body = (
        "self.assertNotIn('OPENAI_API_KEY', os.environ)\n"
        "self.assertNotIn('AGENT_HOST_EXAMPLE_TOKEN', os.environ)\n"
        "self.assertFalse([k for k, v in os.environ.items() if 'sk-sentinel' in v])"
    )
    answer = await _run(tester, CODE, _tests(body, imports="import os"))
    assert answer["signal"] == "tests_passed", answer["failures"]


def test_a_non_positive_timeout_is_refused() -> None:
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        code_tests.CodeTestsPlugin(timeout=0)


async def test_the_host_loads_the_folder_and_the_kernel_invokes_run_tests() -> None:
    kernel = Kernel()
    report = SourceReport()
    PluginLoader(kernel, {}, report).load_directory(PLUGINS_DIR)
    assert report.problems == []
    assert report.files == {"code_tests.run_tests": PLUGINS_DIR / "code_tests.py"}
    result = await kernel.invoke(
        plugin_name="code_tests", function_name="run_tests", code=CODE, tests=PASSING
    )
    assert result is not None
    answer = json.loads(str(result))
    assert (answer["signal"], answer["passed"], answer["failed"]) == ("tests_passed", 2, 0)
