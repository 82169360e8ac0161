"""Running a :class:`~host.validation.spec.Validation`'s checks against one output."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from host.errors import InvalidArgumentsError
from host.state import RunState
from host.validation.spec import Validation

Judge = Callable[[str, str, str], Awaitable[tuple[bool, str]]]
"""``(function, output, facts) -> (ok, reason)``: asks a judging prompt function."""

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][\w.]*)\}")
_DATE_OR_TIME = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ][\d:.]+Z?)?|\d{1,2}:\d{2}")
_MINUS = "\u2212"
_NUMBER = re.compile(rf"(?<![\w.])[-{_MINUS}]?\d+(?:\.\d+)?")
_APOSTROPHE = "\u2019"
_NAME = re.compile(rf"\b[A-Z][A-Za-z'{_APOSTROPHE}-]+")
"""A capitalised word of two letters or more: a place, a brand, a weekday (not °C)."""


@dataclass(frozen=True)
class Verdict:
    """The problems found and how many checks ran; ``confidence`` is the share passed."""

    problems: tuple[str, ...]
    checks: int

    @property
    def passed(self) -> bool:
        return not self.problems

    @property
    def confidence(self) -> float:
        return (self.checks - len(self.problems)) / self.checks if self.checks else 1.0


def render(template: str, arguments: Mapping[str, Any], state: RunState, where: str) -> str:
    """``template`` with ``{argument}``, ``{steps.<id>.output.<field>}`` and ``{state.<key>}``
    filled in; an unknown name is an :class:`InvalidArgumentsError` naming ``where``."""
    from host.plans import parse_ref

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        try:
            found = arguments[name] if "." not in name else state.resolve(parse_ref(name))
        except (KeyError, IndexError, ValueError, TypeError):
            problem = f"template names unknown value {{{name}}}"
            raise InvalidArgumentsError(where, [problem]) from None
        return _as_text(found)

    return _PLACEHOLDER.sub(value, template)


async def check(
    validation: Validation,
    output: Any,
    facts: list[str],
    judge: Judge | None,
) -> Verdict:
    """Every check of ``validation`` against ``output``; ``facts`` are the rendered mentions."""
    text = _as_text(output)
    problems: list[str] = []
    checks = 0
    if validation.json_schema is not None:
        checks += 1
        problems.extend(schema_problems(validation.json_schema, output))
    if validation.regex is not None:
        checks += 1
        if re.search(validation.regex, text) is None:
            problems.append(f"output does not match {validation.regex!r}")
    for fact in facts:
        checks += 1
        missing = _missing(fact, text)
        if missing:
            problems.append(f"output does not state {', '.join(missing)} (from {fact!r})")
    if validation.judge is not None and judge is not None:
        checks += 1
        ok, reason = await judge(validation.judge, text, "; ".join(facts))
        if not ok:
            problems.append(f"{validation.judge} rejected the output: {reason}")
    return Verdict(tuple(problems), checks)


def judgement(reply: Any) -> tuple[bool, str]:
    """A judge's reply read as ``(ok, reason)``: JSON ``{"ok", "reason"}`` or yes/no text."""
    text = reply if isinstance(reply, str) else json.dumps(reply)
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("ok"), bool):
        return data["ok"], str(data.get("reason", ""))
    words = text.strip().split(maxsplit=1)
    verdict = words[0].strip(".,:!").lower() if words else ""
    return verdict == "yes", words[1] if len(words) > 1 else text.strip() or "no answer"


def schema_problems(schema: Mapping[str, Any], output: Any) -> list[str]:
    """Why ``output`` (JSON text, or a value) does not fit ``schema``; empty when it does."""
    import jsonschema
    from jsonschema_specifications import REGISTRY  # type: ignore[import-untyped]

    value = output
    if isinstance(output, str):
        try:
            value = json.loads(output)
        except json.JSONDecodeError as error:
            return [f"output is not JSON ({error.msg} at position {error.pos})"]
    validator = jsonschema.Draft202012Validator(schema, registry=REGISTRY)
    return [
        f"output{''.join(f'[{p!r}]' for p in e.absolute_path)}: {e.message}"
        for e in sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    ]


def _missing(fact: str, text: str) -> list[str]:
    """The numbers (dates and times aside) and capitalised names of ``fact`` absent from
    ``text`` (names as whole words, in any case); or the whole fact when it has no
    numbers and ``text`` does not contain it."""
    wanted = _numbers(fact)
    if not wanted:
        return [] if fact.strip().lower() in text.lower() else [repr(fact.strip())]
    present = set(_numbers(text))
    missing = [_show(n) for n in wanted if n not in present]
    names = dict.fromkeys(_NAME.findall(_DATE_OR_TIME.sub(" ", fact)))
    absent = [n for n in names if not re.search(rf"\b{re.escape(n)}\b", text, re.IGNORECASE)]
    return missing + [repr(name) for name in absent]


def _numbers(text: str) -> list[float]:
    bare = _DATE_OR_TIME.sub(" ", text)
    return [float(n.replace(_MINUS, "-")) for n in _NUMBER.findall(bare)]


def _show(number: float) -> str:
    return f"{number:g}"


def _as_text(value: Any) -> str:
    """``value`` as checks read it: text as it is, anything else as JSON (what JSON cannot
    hold, a date, as its text)."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
