"""``agent-host invoke --model`` with a name the config does not have fails before running."""

from __future__ import annotations

from pathlib import Path

import pytest

from host.cli import main
from tests.executor.echo_kit import write_echo_config


def test_invoke_with_an_unknown_model_prints_the_configured_ones_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    writer = (
        "    options: {replies: [local ran]}\n  writer:\n    provider: scripted\n    model: w\n"
    )
    config = write_echo_config(tmp_path, model=writer)

    status = main(["invoke", "talk.Echo", "input=hi", "--model", "writr", "--config", str(config)])

    captured = capsys.readouterr()
    assert status == 2
    assert captured.err.splitlines() == [
        "error: unknown model 'writr' (configured models: local, writer)"
    ]
    assert captured.out == ""
