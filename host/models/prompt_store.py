"""Evaluated prompt prefixes kept on disk, so a new process starts where earlier ones left off.

Each file holds a prompt's leading tokens and llama.cpp's sequence state after
evaluating them (the KV cache rows). Files live in one folder per model file,
llama-cpp build and context settings, so a state is only ever restored into the
build and model that wrote it. Writes are atomic; a file that cannot be read is
ignored and removed; the folder is held to a byte budget, least recently used
files removed first.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from array import array
from pathlib import Path

_MAGIC = b"agent-host prefix 1\n"
_TOKEN = "i"  # C int, llama.cpp's llama_token


class PromptStore:
    """Copies of evaluated prompt prefixes in ``folder``, at most ``budget`` bytes of them."""

    def __init__(self, folder: Path, budget: int) -> None:
        self._folder = folder
        self._budget = budget
        self._prefixes: dict[tuple[int, ...], Path] = {}
        for path in sorted(folder.glob("*.prefix")):
            tokens = self._read_tokens(path)
            if tokens:
                self._prefixes[tokens] = path

    def prefixes(self) -> list[tuple[int, ...]]:
        """The token prefixes a state is kept for."""
        return list(self._prefixes)

    def load(self, tokens: tuple[int, ...]) -> bytes | None:
        """The state kept for ``tokens``, or ``None`` if its file is gone or unreadable."""
        path = self._prefixes.get(tokens)
        if path is None:
            return None
        try:
            data = path.read_bytes()
            os.utime(path)  # recently used: evicted last
        except OSError:
            self.drop(tokens)
            return None
        offset = len(_MAGIC) + 4 + len(tokens) * 4
        return data[offset:]

    def save(self, tokens: tuple[int, ...], state: bytes) -> None:
        """Keep ``state`` for ``tokens`` (atomically); a failed write only costs a later
        evaluation."""
        if len(state) > self._budget or tokens in self._prefixes:
            return
        name = hashlib.sha256(array(_TOKEN, tokens).tobytes()).hexdigest()[:32]
        path = self._folder / f"{name}.prefix"
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        try:
            self._folder.mkdir(parents=True, exist_ok=True)
            with temporary.open("wb") as file:
                file.write(_MAGIC)
                file.write(len(tokens).to_bytes(4, "little"))
                file.write(array(_TOKEN, tokens).tobytes())
                file.write(state)
            temporary.replace(path)
        except OSError:
            with contextlib.suppress(OSError):
                temporary.unlink()
            return
        self._prefixes[tokens] = path
        self._evict()

    def drop(self, tokens: tuple[int, ...]) -> None:
        """Forget and remove the copy for ``tokens``."""
        path = self._prefixes.pop(tokens, None)
        if path is not None:
            with contextlib.suppress(OSError):
                path.unlink()

    def _evict(self) -> None:
        sizes = {}
        for tokens, path in self._prefixes.items():
            with contextlib.suppress(OSError):
                stat = path.stat()
                sizes[tokens] = (stat.st_mtime_ns, stat.st_size)
        total = sum(size for _, size in sizes.values())
        for tokens in sorted(sizes, key=lambda kept: sizes[kept][0]):
            if total <= self._budget:
                break
            total -= sizes[tokens][1]
            self.drop(tokens)

    @staticmethod
    def _read_tokens(path: Path) -> tuple[int, ...] | None:
        """The tokens a file was written for, or ``None`` (and the file removed) if it is
        not one of ours."""
        try:
            with path.open("rb") as file:
                if file.read(len(_MAGIC)) != _MAGIC:
                    raise ValueError("not a prompt prefix file")
                count = int.from_bytes(file.read(4), "little")
                tokens = array(_TOKEN)
                tokens.frombytes(file.read(count * 4))
                if len(tokens) != count:
                    raise ValueError("cut short")
        except (OSError, ValueError):
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        return tuple(tokens)
