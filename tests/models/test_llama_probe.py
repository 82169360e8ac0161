"""A llama.cpp build that crashes the process is found out in a child, once, and routed around.

The child imports ``llama_cpp`` like the host does; these tests put a stand-in
package first on its ``PYTHONPATH`` that dies by a real signal, fails, or
passes, and counts its runs in a file.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from host import AgentHost, load_config
from host.errors import ProviderError
from host.models import llama_probe
from host.routing import Router
from host.testing import Reply, ScriptedChatCompletion

pytestmark = pytest.mark.reliability

PROMPTS = Path(__file__).resolve().parents[2] / "prompts"
BEHAVIOURS = {
    "sigill": "os.kill(os.getpid(), signal.SIGILL)",
    "fails": "raise ValueError('failed to load model from file')",
    "runs": "pass",
}


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.gguf"
    path.write_bytes(b"GGUF stand-in")
    return path


@pytest.fixture(autouse=True)
def _fresh_verdicts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each test starts with no verdict in memory or on disk."""
    monkeypatch.setattr(llama_probe, "_verdicts", {})
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def stand_in_build(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, behaviour: str) -> Path:
    """Make the probe's child import a llama_cpp that behaves as named; its run counter."""
    package = tmp_path / "stand_in" / "llama_cpp"
    package.mkdir(parents=True)
    runs = tmp_path / "runs.txt"
    package.joinpath("__init__.py").write_text(
        textwrap.dedent(f"""\
            import os, signal
            class Llama:
                def __init__(self, **settings):
                    with open({str(runs)!r}, "a") as runs:
                        runs.write("run\\n")
                    {BEHAVIOURS[behaviour]}
                def create_completion(self, *args, **kwargs):
                    return {{}}
                def close(self):
                    pass
            """),
        encoding="utf-8",
    )
    monkeypatch.setenv("PYTHONPATH", str(package.parent))
    return runs


def probe_runs(counter: Path) -> int:
    return len(counter.read_text().splitlines()) if counter.exists() else 0


def test_a_crashing_build_is_named_by_its_signal_with_the_remedy(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, model_file: Path
) -> None:
    stand_in_build(monkeypatch, tmp_path, "sigill")

    failure = llama_probe.check_runs(model_file)

    assert failure is not None
    assert "crashed with SIGILL" in failure
    assert "reinstall it portably" in failure


def test_a_failing_build_reports_the_childs_last_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, model_file: Path
) -> None:
    stand_in_build(monkeypatch, tmp_path, "fails")

    failure = llama_probe.check_runs(model_file)

    assert failure is not None
    assert "ValueError: failed to load model from file" in failure


@pytest.mark.parametrize("behaviour", ["sigill", "runs"])
def test_the_verdict_is_probed_once_per_build_and_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, model_file: Path, behaviour: str
) -> None:
    counter = stand_in_build(monkeypatch, tmp_path, behaviour)
    first = llama_probe.check_runs(model_file)
    monkeypatch.setattr(llama_probe, "_verdicts", {})  # as a new process would start

    again = llama_probe.check_runs(model_file)

    assert again == first
    assert (first is None) == (behaviour == "runs")
    assert probe_runs(counter) == 1


def test_a_changed_model_file_is_probed_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, model_file: Path
) -> None:
    counter = stand_in_build(monkeypatch, tmp_path, "runs")
    llama_probe.check_runs(model_file)
    model_file.write_bytes(b"GGUF stand-in, a different file")

    llama_probe.check_runs(model_file)

    assert probe_runs(counter) == 2


def test_known_failure_reads_the_record_without_probing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, model_file: Path
) -> None:
    counter = stand_in_build(monkeypatch, tmp_path, "sigill")
    assert llama_probe.known_failure(model_file) is None
    llama_probe.check_runs(model_file)
    monkeypatch.setattr(llama_probe, "_verdicts", {})

    assert "SIGILL" in (llama_probe.known_failure(model_file) or "")
    assert probe_runs(counter) == 1


def crash_config(tmp_path: Path, model_file: Path, *, fallback: bool) -> Path:
    config = tmp_path / "host.yaml"
    backup = "    fallback: backup\n" if fallback else ""
    config.write_text(
        "default_model: local\nmodels:\n"
        "  local:\n    provider: local\n    model: tiny\n"
        f"    options: {{model_path: {str(model_file)!r}}}\n"
        f"{backup}"
        "  backup:\n    provider: scripted\n    model: s\n    capabilities: [classify]\n"
        "    cost: {input: 1, output: 1}\n",
        encoding="utf-8",
    )
    return config


async def test_the_local_provider_raises_and_the_fallback_serves(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, model_file: Path
) -> None:
    stand_in_build(monkeypatch, tmp_path, "sigill")
    backup = ScriptedChatCompletion("backup", [Reply("Iced tea for a 24°C day.")])
    config = crash_config(tmp_path, model_file, fallback=True)

    async with AgentHost(config, prompt_dirs=[PROMPTS], models={"backup": backup}) as host:
        record = await host.invoke("marketing.promo_copy", input="iced tea", facts="24°C")

    assert record.output == "Iced tea for a 24°C day."
    assert record.model == "backup"
    failed = [event for event in record.events if event.target == "local"]
    assert failed
    assert failed[0].error_type == ProviderError.__name__
    assert "crashed with SIGILL" in (failed[0].error or "")


def test_routing_leaves_out_a_model_known_to_crash(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, model_file: Path
) -> None:
    stand_in_build(monkeypatch, tmp_path, "sigill")
    loaded = load_config(crash_config(tmp_path, model_file, fallback=False))
    before = Router(loaded.config.models, unavailable=loaded.unavailable_models())
    assert before.choose("classify").model == "local"
    llama_probe.check_runs(model_file)

    route = Router(loaded.config.models, unavailable=loaded.unavailable_models()).choose("classify")

    assert route.model == "backup"
    assert "local: llama.cpp crashed with SIGILL" in route.reason


@pytest.mark.parametrize(
    "command",
    [
        ["invoke", "marketing.promo_copy", "input=iced tea", "facts=24°C"],
        ["run", "write a promotion copy for our iced tea"],
    ],
    ids=["invoke", "run"],
)
def test_the_cli_prints_one_line_and_exits_non_zero(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, model_file: Path, command: list[str]
) -> None:
    stand_in_build(monkeypatch, tmp_path, "sigill")
    config = crash_config(tmp_path, model_file, fallback=False)
    where = ["--config", str(config), "--prompts-dir", str(PROMPTS)]

    done = subprocess.run(
        [sys.executable, "-m", "host", command[0], *where, *command[1:]],
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode != 0
    assert done.stderr.count("\n") == 1
    assert "crashed with SIGILL" in done.stderr
