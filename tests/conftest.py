"""Shared fixtures: a minimal config on the scripted model, written to a real file."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SK_SAMPLES = ROOT / "tests" / "data" / "sk_prompt_samples"


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
