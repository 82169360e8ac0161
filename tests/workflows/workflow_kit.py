"""A host for workflow tests: a scripted model, the shipped plugins and prompts, a dev plugin
whose review and test verdicts come from config, and mail and customers in real files."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import ROOT

DEV_PLUGIN = '''\
import json
from typing import ClassVar

from semantic_kernel.functions import kernel_function


class DevPlugin:
    """Plays scripted review and test verdicts, one per call."""

    plugin_name: ClassVar[str] = "dev"

    def __init__(self, reviews: list[str], tests: list[str]) -> None:
        self._reviews, self._tests = list(reviews), list(tests)

    @kernel_function(description="Review a change; JSON {next, round}.")
    def review(self, change: str) -> str:
        return json.dumps({"next": self._reviews.pop(0), "change": change})

    @kernel_function(description="Test a change; pass or fail.")
    def test(self, change: str) -> str:
        return self._tests.pop(0)
'''


def write_host(
    tmp_path: Path,
    *,
    reviews: tuple[str, ...] = (),
    tests: tuple[str, ...] = (),
    model: str = "  local:\n    provider: scripted\n    model: s\n",
) -> Path:
    """A config in ``tmp_path``; mail lives in ``inbox``/``outbox`` and customers in
    ``customers.sqlite3`` there."""
    plugins = tmp_path / "plugins"
    plugins.mkdir(exist_ok=True)
    (plugins / "dev.py").write_text(DEV_PLUGIN)
    config = tmp_path / "host.yaml"
    config.write_text(
        f"models:\n{model}"
        "tools:\n"
        f"  dev:\n    settings: {{reviews: {json.dumps(list(reviews))}, "
        f"tests: {json.dumps(list(tests))}}}\n"
        f"  email:\n    settings: {{inbox: {tmp_path / 'inbox'}, outbox: {tmp_path / 'outbox'}}}\n"
        f"  customers:\n    settings: {{database: {tmp_path / 'customers.sqlite3'}}}\n"
        "  weather:\n    settings: {use_network: false}\n"
        f"plugins:\n  directories: [{plugins}, {ROOT / 'plugins'}]\n"
        f"prompts:\n  directories: [{ROOT / 'prompts'}]\n"
    )
    return config
