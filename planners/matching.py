"""Matching request text to function descriptions by shared word stems."""

from __future__ import annotations

import re
from collections.abc import Iterable

from host.catalogue import FunctionInfo

_STEM = 6
_COMMON = frozenset(
    {"a", "an", "and", "the", "of", "for", "to", "in", "on", "at", "by", "with", "from", "into"}
    | {"is", "are", "be", "it", "its", "this", "that", "please", "me", "my", "our", "your"}
    | {"i", "we", "you", "some", "any", "then", "also", "get", "check"}
)


def stems(text: str) -> set[str]:
    """The stems (first letters) of the uncommon words of ``text``: promotion → promot."""
    return _stem(w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _COMMON)


def shared_stems(wanted: set[str], info: FunctionInfo) -> list[str]:
    """The stems of ``wanted`` found in the function's name, plugin, description or in its
    parameters' names and descriptions (``e.g. 'Shanghai'`` there counts)."""
    parameters = " ".join(f"{p.name} {p.description}" for p in info.parameters)
    offered = stems(f"{info.function} {info.plugin} {info.description} {parameters}")
    return sorted(wanted & offered)


def _stem(words: Iterable[str]) -> set[str]:
    return {word[:_STEM] for word in words if len(word) > 1}
