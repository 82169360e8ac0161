"""Shared fixtures: a minimal config on the scripted model, written to a real file.

The suite runs under agent-host's own pytest plugin (:mod:`host.testing.plugin`): every
test may reach loopback only and sees no hosted model's key.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SK_SAMPLES = ROOT / "tests" / "data" / "sk_prompt_samples"


def pytest_configure(config: pytest.Config) -> None:
    """Refuse to run without the plugin's guard (an install older than its entry point)."""
    if not config.pluginmanager.has_plugin("agent_host"):
        raise pytest.UsageError(
            "the agent_host pytest plugin is not loaded: reinstall the project "
            "(python3 scripts/bootstrap.py --dev) so its pytest11 entry point is registered"
        )


@pytest.fixture(autouse=True)
def _runs_database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The shipped config's run database is the test's own file."""
    monkeypatch.setenv("AGENT_HOST_RUNS_DB", str(tmp_path / "runs.sqlite3"))


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
