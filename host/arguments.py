"""Arguments checked against a function's parameters before the call, not inside it."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError

from host.catalogue import FunctionInfo
from host.errors import InvalidArgumentsError
from host.memo import by_identity

if TYPE_CHECKING:
    from semantic_kernel.functions import KernelFunction


def check_arguments(
    info: FunctionInfo, arguments: Mapping[str, Any], types: Mapping[str, Any]
) -> dict[str, Any]:
    """Return ``arguments`` converted to the parameters' types (``"3"`` → ``3`` for an int).

    ``types`` maps parameter names to Python types (native functions know theirs).
    Raises :class:`InvalidArgumentsError` listing every unknown, missing or
    mistyped argument with what was expected.
    """
    problems: list[str] = []
    known = _names(info)
    for name in arguments:
        if name not in known:
            accepted = ", ".join(sorted(known)) or "no arguments"
            problems.append(f"unknown argument {name!r} (accepted: {accepted})")
    converted: dict[str, Any] = {}
    for parameter in info.parameters:
        if parameter.name not in arguments:
            if parameter.required and parameter.default is None:
                problems.append(f"missing required argument {parameter.name!r} ({parameter.type})")
            continue
        value = arguments[parameter.name]
        expected = types.get(parameter.name)
        if expected is None or (type(value) is expected and expected in _AS_IS):
            converted[parameter.name] = value
            continue
        try:
            converted[parameter.name] = _adapter(expected).validate_python(value)
        except ValidationError:
            problems.append(
                f"argument {parameter.name!r}: expected {parameter.type}, got {value!r}"
            )
    if problems:
        raise InvalidArgumentsError(info.name, problems)
    return converted


_AS_IS = frozenset({str, int, float, bool})
"""Types whose exact instances pydantic's lax validation returns unchanged: no need to ask it."""


@by_identity
def _names(info: FunctionInfo) -> frozenset[str]:
    """The parameter names of ``info``, worked out once per function."""
    return frozenset(p.name for p in info.parameters)


@lru_cache(maxsize=256)
def _adapter(expected: Any) -> TypeAdapter[Any]:
    return TypeAdapter(expected)


def parameter_types(function: KernelFunction) -> dict[str, Any]:
    """The Python type of each parameter of an SK function, where it declares one."""
    return {str(p.name): p.type_object for p in function.metadata.parameters if p.type_object}
