"""A deterministic planner: the one function whose name and description best match a request.

It needs no model, so there is always an answer or a clear "cannot plan this"
error. Words are compared by their first letters (``promotion`` matches
``promotional``), ignoring common words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from host.catalogue import FunctionInfo
from host.errors import AgentHostError

_STEM = 6
_COMMON = frozenset(
    {"a", "an", "and", "the", "of", "for", "to", "in", "on", "at", "by", "with", "from", "into"}
    | {"is", "are", "be", "it", "its", "this", "that", "please", "me", "my", "our", "your"}
    | {"i", "we", "you", "some", "any", "then", "also", "get", "check"}
)
_TEXT_PARAMETERS = ("input", "request", "text", "query", "message")


class CannotPlanError(AgentHostError):
    """No loaded function matches the request."""


@dataclass(frozen=True)
class FunctionChoice:
    """The chosen function, its arguments, and why it was chosen."""

    function: str
    arguments: dict[str, Any]
    reason: str


def choose_function(request: str, catalogue: Sequence[FunctionInfo]) -> FunctionChoice:
    """Pick the best-matching function that can take the request as its text input."""
    wanted = _stems(_words(request))
    if not wanted:
        raise CannotPlanError("cannot plan an empty request")
    scored = []
    for info in catalogue:
        parameter = _text_parameter(info)
        if parameter is None:
            continue
        offered = _stems(_words(f"{info.function} {info.plugin} {info.description}"))
        matched = sorted(wanted & offered)
        if matched:
            scored.append((len(matched), info.name, info, parameter, matched))
    if not scored:
        names = ", ".join(info.name for info in catalogue) or "none are loaded"
        raise CannotPlanError(
            f"cannot plan {request!r}: no function that takes a text input matches it "
            f"(loaded: {names})"
        )
    scored.sort(key=lambda item: (-item[0], item[1]))
    _, name, info, parameter, matched = scored[0]
    return FunctionChoice(
        function=name,
        arguments={parameter: request},
        reason=f"{name} best matches the request (shared words: {', '.join(matched)})",
    )


def _text_parameter(info: FunctionInfo) -> str | None:
    """The parameter that takes the request: a known text name, or the only required one."""
    required = [p for p in info.parameters if p.required and p.default is None]
    for name in _TEXT_PARAMETERS:
        parameter = info.parameter(name)
        if parameter is not None and all(p.name == name for p in required):
            return name
    if len(required) == 1 and required[0].type in ("str", "string"):
        return required[0].name
    return None


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _COMMON]


def _stems(words: Iterable[str]) -> set[str]:
    return {word[:_STEM] for word in words if len(word) > 1}
