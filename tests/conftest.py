"""Shared fixtures: a minimal config on the scripted model, written to a real file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from host.testing.network import loopback_only

ROOT = Path(__file__).resolve().parent.parent
SK_SAMPLES = ROOT / "tests" / "data" / "sk_prompt_samples"


@pytest.fixture(autouse=True)
def _no_real_network(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Every test may reach 127.0.0.1 only, and no hosted model's key is set (an empty
    variable also hides one in .env); a test that needs a key sets it itself. The
    shipped config's run database is the test's own file."""
    for variable in ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.setenv(variable, "")
    monkeypatch.setenv("AGENT_HOST_RUNS_DB", str(tmp_path / "runs.sqlite3"))
    with loopback_only():
        yield


@pytest.fixture
def scripted_config(tmp_path: Path) -> Path:
    """A config with one scripted model and no plugin or prompt directories."""
    path = tmp_path / "host.yaml"
    path.write_text(
        "models:\n  main:\n    provider: scripted\n    model: scripted-1\n"
        "    cost: {input: 1.0, output: 2.0}\n",
        encoding="utf-8",
    )
    return path


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """``reliability_cases: N tried, N held``: the standing suite of bad input, faults,
    crashes and secrets (tests marked ``reliability``), counted on every run."""
    tried = held = 0
    for outcome in ("passed", "failed", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            counted = report.when == "call" or outcome == "error"
            if counted and "reliability" in getattr(report, "keywords", {}):
                tried += 1
                held += outcome == "passed"
    if tried:
        terminalreporter.write_line(f"reliability_cases: {tried} tried, {held} held")
