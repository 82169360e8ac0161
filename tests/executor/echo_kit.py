"""A host config for executor tests: one scripted model, the shipped plugins, and talk.Echo."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ROOT

PROMPT = 'name: Echo\ntemplate: "Say {{$input}}"\ndescription: Say something.\n'


def write_echo_config(tmp_path: Path, *, model: str = "", extra: str = "") -> Path:
    """``host.yaml`` with model ``local`` (plus ``model`` lines under it) and ``extra`` YAML."""
    folder = tmp_path / "prompts" / "talk"
    folder.mkdir(parents=True)
    (folder / "echo.yaml").write_text(PROMPT)
    config = tmp_path / "host.yaml"
    config.write_text(
        "models:\n  local:\n    provider: scripted\n    model: s\n"
        + model
        + f"plugins:\n  directories: [{ROOT / 'plugins'}]\n"
        "prompts:\n  directories: [prompts]\n" + extra
    )
    return config
