"""A deterministic planner: the one function whose name and description best match a request.

It needs no model, so there is always an answer or a clear "cannot plan this"
error. Words are compared by their first letters (``promotion`` matches
``promotional``), ignoring common words.
"""

from __future__ import annotations

from collections.abc import Sequence

from host.catalogue import FunctionInfo
from host.errors import CannotPlanError
from host.planning import FunctionChoice
from planners.matching import shared_stems, stems

_TEXT_PARAMETERS = ("input", "request", "text", "query", "message")


def choose_function(request: str, catalogue: Sequence[FunctionInfo]) -> FunctionChoice:
    """Pick the best-matching function that can take the request as its text input."""
    wanted = stems(request)
    if not wanted:
        raise CannotPlanError("cannot plan an empty request")
    scored = []
    for info in catalogue:
        parameter = text_parameter(info)
        if parameter is None:
            continue
        matched = shared_stems(wanted, info)
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


def text_parameter(info: FunctionInfo) -> str | None:
    """The parameter that takes the request: a known text name, or the only required one."""
    required = [p for p in info.parameters if p.required and p.default is None]
    for name in _TEXT_PARAMETERS:
        parameter = info.parameter(name)
        if parameter is not None and all(p.name == name for p in required):
            return name
    if len(required) == 1 and required[0].type in ("str", "string"):
        return required[0].name
    return None
