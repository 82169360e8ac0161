"""Argument typing: the one set of rules for invoke, plans, workflows and model tool calls.

An argument must fit its parameter's type: the Python type a native function
declares, else the type name (``str``, ``int``, ``float``, ``bool``, ``list``,
``dict``, or their JSON-schema names); any other name accepts anything. Values
are converted as pydantic's lax mode converts them (``"50"`` → 50 for an
``int``, ``"2.5"`` → 2.5 for a ``float``, ``"true"`` → True for a ``bool``, a
dict → a model), except that a bool is never a number. Nothing becomes text
(``3`` for a ``str`` is rejected), and ``None`` fits no declared type, not even
an optional one (SK cannot pass it): leave the argument out instead.

:func:`check_arguments` applies the rules before every call; plans and
workflows ask :func:`argument_problems` before anything runs. Between steps,
:func:`adapt_output` first fits a referenced output to the next parameter's
shape (JSON text ↔ dict/list, any value → text for a text parameter).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from functools import lru_cache
from typing import Any, NamedTuple

from pydantic import TypeAdapter

from host.catalogue import FunctionInfo, ParameterInfo
from host.errors import InvalidArgumentsError, quoted
from host.memo import by_identity


def check_arguments(info: FunctionInfo, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``arguments`` converted to the parameters' types (``"3"`` → ``3`` for an int).

    Raises :class:`InvalidArgumentsError` listing every unknown, missing or
    mistyped argument with what was expected.
    """
    plain = _plain_parameters(info)
    if plain is not None:
        given = _as_given(plain, arguments)
        if given is not None:
            return given
    converted, problems = _checked(info, arguments, ())
    if problems:
        raise InvalidArgumentsError(info.name, problems)
    return converted


def argument_problems(
    info: FunctionInfo, arguments: Mapping[str, Any], *, unchecked: Collection[str] = ()
) -> list[str]:
    """What :func:`check_arguments` would reject, one message per problem.

    Names in ``unchecked`` are given, but their values are known only when the
    step runs (a plan's references): they count as present and are not checked.
    """
    return _checked(info, arguments, unchecked)[1]


def adapt_output(info: FunctionInfo, name: str, value: Any) -> Any:
    """An earlier step's output shaped for parameter ``name``: JSON text parsed for a dict,
    list or model parameter, any other value written as JSON text for a text parameter.

    Its type is then checked by :func:`check_arguments` (``"18"`` → 18, a dict → a
    model). Raises :class:`InvalidArgumentsError` for text that should be JSON and is not.
    """
    slot = _parameters(info).get(name)
    if slot is None:
        return value
    if slot.kind in ("str", "string"):
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and (slot.kind in _JSON_KINDS or value.lstrip()[:1] in ("{", "[")):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            expected = slot.parameter.type
            problem = f"argument {name!r}: expected {expected}, got text {quoted(value)}"
            raise InvalidArgumentsError(info.name, [problem]) from None
    return value


class _Slot(NamedTuple):
    parameter: ParameterInfo
    expected: Any
    """The Python type an argument must fit; ``None`` accepts anything."""
    kind: str
    """The base of the type name, lower case (``dict[str, int]`` → ``dict``)."""


_NAMED: dict[str, type] = {
    "str": str,
    "string": str,
    "int": int,
    "integer": int,
    "float": float,
    "number": float,
    "bool": bool,
    "boolean": bool,
    "list": list,
    "array": list,
    "dict": dict,
    "object": dict,
}
"""The Python type of a parameter that declares only a type name (prompt functions)."""

_JSON_KINDS = ("dict", "list", "object", "array")
_AS_IS = frozenset({str, int, float, bool})
"""Types whose exact instances the rules return unchanged: no need to ask pydantic."""
_NUMBERS = (int, float)


@by_identity
def _parameters(info: FunctionInfo) -> dict[str, _Slot]:
    """Each parameter of ``info`` by name with its type, worked out once per function."""
    slots: dict[str, _Slot] = {}
    for parameter in info.parameters:
        kind = parameter.type.split("[", 1)[0].strip().lower()
        expected = parameter.annotation or _NAMED.get(kind)
        slots.setdefault(parameter.name, _Slot(parameter, expected, kind))
    return slots


_Plain = tuple[tuple[str, type | None, bool], ...]
"""Per parameter: its name, the exact type it takes as is (``None``: anything), whether
it must be given."""


@by_identity
def _plain_parameters(info: FunctionInfo) -> _Plain | None:
    """``info``'s parameters when each takes a value of one type as is (text, a number,
    a bool, or anything); else ``None``: some argument may need converting."""
    plain = []
    for parameter, expected, _ in _parameters(info).values():
        if expected is not None and expected not in _AS_IS:
            return None
        plain.append((parameter.name, expected, parameter.required and parameter.default is None))
    return tuple(plain)


def _as_given(plain: _Plain, arguments: Mapping[str, Any]) -> dict[str, Any] | None:
    """``arguments`` as :func:`_checked` would convert them, when each is exactly of its
    parameter's type and none is missing or unknown; else ``None`` (check them fully)."""
    given: dict[str, Any] = {}
    for name, expected, required in plain:
        if name in arguments:
            value = arguments[name]
            if expected is not None and type(value) is not expected:
                return None
            given[name] = value
        elif required:
            return None
    return given if len(given) == len(arguments) else None


def _checked(
    info: FunctionInfo,
    arguments: Mapping[str, Any],
    unchecked: Collection[str],
) -> tuple[dict[str, Any], list[str]]:
    """``arguments`` converted, and every problem with them."""
    slots = _parameters(info)
    problems = [
        f"unknown argument {quoted(name)} (accepted: {', '.join(sorted(slots)) or 'no arguments'})"
        for name in arguments
        if name not in slots
    ]
    converted: dict[str, Any] = {}
    for name, (parameter, expected, _) in slots.items():
        if name not in arguments:
            if parameter.required and parameter.default is None:
                problems.append(f"missing required argument {name!r} ({parameter.type})")
            continue
        if name in unchecked:
            continue
        value = arguments[name]
        try:
            converted[name] = _fit(value, expected)
        except ValueError:  # pydantic's ValidationError is one
            problems.append(f"argument {name!r}: expected {parameter.type}, got {quoted(value)}")
    return converted, problems


def _fit(value: Any, expected: Any) -> Any:
    """``value`` converted to ``expected``; ValueError when it does not fit."""
    if expected is None or (type(value) is expected and expected in _AS_IS):
        return value
    if isinstance(value, bool) and expected in _NUMBERS:
        raise ValueError("a bool is not a number")
    return _adapter(expected).validate_python(value)


@lru_cache(maxsize=256)
def _adapter(expected: Any) -> TypeAdapter[Any]:
    return TypeAdapter(expected)
