"""The code-review team's tester: run produced code's unittest tests in a subprocess.

``run_tests`` writes ``code`` to ``solution.py`` and ``tests`` to ``test_solution.py``
in a fresh temporary directory (always removed after) and runs the tests there with
this interpreter (``sys.executable -I``) and :mod:`unittest`, so ``tests`` must be
unittest tests (``unittest.TestCase`` classes with ``test_*`` methods) importing from
``solution``. The subprocess gets a minimal environment (``PATH``, ``HOME``, ``TMPDIR``,
``LANG``: no inherited secrets), its own process group, killed on timeout or
cancellation, and an audit hook installed before any test code runs that refuses
network access (connecting, binding, sending, name lookups) and starting processes
(a child would run without the hook). An audit hook cannot be removed, but it is a
guard against accidents, not a sandbox: ``ctypes`` can still reach the C library.

The answer is JSON ``{signal, passed, failed, failures, output}``. Bad input never
raises: empty code or tests, a syntax error, an import error, a crash, a timeout or
no tests at all are ``tests_failed`` with the reason in ``failures``; ``passed`` and
``failed`` count tests that ran (0 and 0 when none could).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import Annotated, ClassVar

from semantic_kernel.functions import kernel_function

TIMEOUT_SECONDS = 30.0
"""Default limit on one test run, read when the run starts."""
OUTPUT_CHARS = 2000
"""How much of the end of the test output the answer keeps."""
MAX_FAILURES = 10
"""How many failures the answer names; the rest are counted in one last line."""
FAILURE_CHARS = 300
"""Longest failure line."""

PRELUDE = """\
import sys

_BLOCKED = {
    **dict.fromkeys(
        ("socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg",
         "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr",
         "socket.getnameinfo"),
        "network access",
    ),
    **dict.fromkeys(
        ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
         "os.fork", "os.forkpty"),
        "starting a process",
    ),
}


def _audit(event, args):
    what = _BLOCKED.get(event)
    if what is not None:
        raise PermissionError(f"{what} is blocked while testing ({event})")


sys.addaudithook(_audit)

import json, os, unittest


class _Result(unittest.TextTestResult):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.problems, self.failing = [], set()

    def _note(self, test, owner, err):
        text = str(err[1]).strip()
        if type(owner).__name__ == "_FailedTest":
            message = "cannot import: " + (text.splitlines()[-1] if text else "")
        else:
            message = f"{err[0].__name__}: {text}" if text else err[0].__name__
        name = test.id().removeprefix("unittest.loader._FailedTest.")
        self.problems.append(f"{name}: {' '.join(message.split())}")
        self.failing.add(owner.id())

    def addError(self, test, err):
        super().addError(test, err)
        self._note(test, test, err)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._note(test, test, err)

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._note(subtest, test, err)

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self.problems.append(f"{test.id()}: unexpected success")
        self.failing.add(test.id())


sys.path.insert(0, os.getcwd())
_suite = unittest.defaultTestLoader.discover(".", pattern="test_solution.py")
_run = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, resultclass=_Result).run(_suite)
with open(sys.argv[1], "w", encoding="utf-8") as _file:
    json.dump(
        {
            "passed": max(_run.testsRun - len(_run.failing) - len(_run.skipped), 0),
            "failed": len(_run.failing),
            "failures": _run.problems,
        },
        _file,
    )
"""
"""Run as ``python -I -c PRELUDE RESULT_FILE`` in the test directory: install the audit
hook, run the tests, write ``{passed, failed, failures}`` to ``RESULT_FILE``."""


def _answer(passed: int, failed: int, failures: list[str], output: str = "") -> str:
    lines = [line[:FAILURE_CHARS] for line in failures[:MAX_FAILURES]]
    if len(failures) > MAX_FAILURES:
        lines.append(f"... and {len(failures) - MAX_FAILURES} more")
    ok = failed == 0 and passed > 0 and not failures
    answer = {
        "signal": "tests_passed" if ok else "tests_failed",
        "passed": passed,
        "failed": failed,
        "failures": lines,
        "output": output[-OUTPUT_CHARS:],
    }
    return json.dumps(answer, ensure_ascii=False)


def _syntax_problem(source: str, filename: str) -> str | None:
    """Why ``source`` is not a Python module, or None when it compiles."""
    if not source.strip():
        return f"{filename} is empty: nothing to test"
    try:
        compile(source, filename, "exec", dont_inherit=True)
    except SyntaxError as error:
        return f"{filename} line {error.lineno}: {type(error).__name__}: {error.msg}"
    except (ValueError, RecursionError, MemoryError) as error:
        return f"{filename}: {type(error).__name__}: {error}"
    return None


def _environment(root: str) -> dict[str, str]:
    """The subprocess's whole environment: nothing else of the host's reaches it."""
    path = os.environ.get("PATH", os.defpath)
    return {"PATH": path, "HOME": root, "TMPDIR": root, "LANG": "C.UTF-8"}


def _kill_group(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if hasattr(os, "killpg"):
            os.killpg(process.pid, signal.SIGKILL)
        else:  # pragma: no cover - not POSIX
            process.kill()


def _write(root: Path, code: str, tests: str) -> None:
    (root / "solution.py").write_text(code, encoding="utf-8")
    (root / "test_solution.py").write_text(tests, encoding="utf-8")


def _result(path: Path, output: str, status: int | None) -> str:
    """The answer from the prelude's result file, or why there is none."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        passed, failed = int(data["passed"]), int(data["failed"])
        failures = [str(line) for line in data["failures"]]
    except (OSError, ValueError, KeyError, TypeError):
        ended = f"was killed by signal {-status}" if status and status < 0 else f"exited ({status})"
        return _answer(0, 0, [f"the test process {ended} before reporting results"], output)
    if passed == 0 and failed == 0 and not failures:
        failures = ["no tests ran (tests must be unittest.TestCase classes with test_* methods)"]
    return _answer(passed, failed, failures, output)


class CodeTestsPlugin:
    """Runs unittest tests against produced code, isolated in a subprocess.

    ``timeout`` (seconds) defaults to :data:`TIMEOUT_SECONDS`; ``temp_root`` is the
    directory the temporary test directories are made in (default: the system's).
    """

    plugin_name: ClassVar[str] = "code_tests"

    def __init__(self, *, timeout: float | None = None, temp_root: str | None = None) -> None:
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self._timeout = timeout
        self._temp_root = temp_root

    @kernel_function(
        name="run_tests",
        description=(
            "Run unittest tests against Python code in an isolated subprocess (no network, "
            "no secrets, time-limited). The code is saved as solution.py; the tests must be "
            "unittest.TestCase classes that import from solution. Returns JSON {signal, "
            "passed, failed, failures, output}; signal is 'tests_passed' only when at least "
            "one test ran and none failed, else 'tests_failed' with the reasons in failures."
        ),
    )
    async def run_tests(
        self,
        code: Annotated[str, "the Python module under test, saved as solution.py"],
        tests: Annotated[str, "unittest tests importing from solution (test_solution.py)"],
    ) -> Annotated[str, "JSON {signal, passed, failed, failures, output}"]:
        """Run ``tests`` against ``code``; never raises for bad code or tests."""
        problem = _syntax_problem(code, "solution.py") or _syntax_problem(tests, "test_solution.py")
        if problem is not None:
            return _answer(0, 0, [problem])
        timeout = TIMEOUT_SECONDS if self._timeout is None else self._timeout
        with tempfile.TemporaryDirectory(prefix="code-tests-", dir=self._temp_root) as temp:
            root = Path(temp)
            _write(root, code, tests)
            return await self._run(root, timeout)

    async def _run(self, root: Path, seconds: float) -> str:
        result_file = root / ".result.json"
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-I", "-B", "-X", "utf8", "-c", PRELUDE, str(result_file)),
            cwd=root,
            env=_environment(str(root)),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        kept = bytearray()

        async def drain() -> None:
            assert process.stdout is not None
            while chunk := await process.stdout.read(65536):
                kept.extend(chunk)
                del kept[: -4 * OUTPUT_CHARS]
            await process.wait()

        finished = False
        try:
            await asyncio.wait_for(drain(), seconds)
            finished = True
        except TimeoutError:
            pass
        finally:
            if not finished:  # timed out or cancelled: nothing of the run may outlive it
                _kill_group(process)
                await process.wait()
        output = kept.decode("utf-8", errors="replace")
        if not finished:
            killed = f"timed out after {seconds:g} s: the test process was killed"
            return _answer(0, 0, [killed], output)
        return _result(result_file, output, process.returncode)
