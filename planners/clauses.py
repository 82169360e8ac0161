"""A deterministic planner: one step per clause of the request, arguments filled by rules.

"check yesterday's Shanghai temperature and write a promotion copy" becomes
``weather.resolve_date(city=Shanghai, expression="yesterday")`` →
``weather.daily_temperatures(city=Shanghai, date=<that date>)`` →
``marketing.promo_copy(input=<clause>, facts=<weather summary>)``.
It needs no model, so the LLM planner can always fall back to it.

Rules, per parameter a clause's function needs:

- a text parameter (``input``, ``request``, ...) takes the clause itself;
- a ``date`` parameter takes a date expression of the clause (``yesterday``,
  ``3 days ago``, an ISO date), resolved by the function's own plugin's
  ``resolve_date`` when it has one (the weather plugin counts days in the
  city's time zone), else by ``clock.resolve_date`` when loaded; the resolver's
  other parameters are filled by these same rules;
- ``facts``/``context``/``data`` take the previous step's output (its
  ``summary`` field when it has one);
- any other text parameter takes a capitalised word of the clause (a name
  such as ``Shanghai``).

A clause no function matches, or a required parameter no rule fills, is a
:class:`CannotPlanError` saying exactly what is missing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from host.catalogue import FunctionInfo, ParameterInfo
from host.errors import CannotPlanError
from host.planning import PlanningContext, PlanOutcome
from host.plans import Plan
from planners.keyword import text_parameter
from planners.matching import shared_stems, stems

_CLAUSE_BREAK = re.compile(r"\s*(?:,|;|\band then\b|\bthen\b|\band\b)\s*", re.IGNORECASE)
_DATE = re.compile(r"\b(today|yesterday|\d+ days? ago|\d{4}-\d{2}-\d{2})\b", re.IGNORECASE)
_WORD = re.compile(r"\b[^\W\d_]{2,}")
_FACT_PARAMETERS = ("facts", "context", "data", "details")
_WRITING = re.compile(r"\b(write|draft|compose|copy|reply|summari[sz]e)\w*", re.IGNORECASE)
_DATE_RESOLVER = "clock.resolve_date"


def plan_by_clauses(request: str, catalogue: Sequence[FunctionInfo]) -> Plan:
    """The plan for ``request``, one step per clause plus date-resolving steps."""
    functions = {info.name: info for info in catalogue}
    steps: list[dict[str, Any]] = []
    for number, clause in enumerate(_clauses(request), start=1):
        info = _best_function(clause, catalogue)
        step_id = f"s{number}_{info.function}"
        arguments = {}
        for parameter in info.parameters:
            value = _fill(parameter, clause, info, steps, functions, step_id)
            if value is not None:
                arguments[parameter.name] = value
            elif parameter.required and parameter.default is None:
                raise CannotPlanError(
                    f"cannot plan {clause!r}: {info.name} needs {parameter.name!r} "
                    f"({parameter.description or parameter.type}) and the request does not say it"
                )
        capability = "write" if info.kind == "prompt" and _WRITING.search(clause) else "fetch"
        steps.append(
            {"id": step_id, "function": info.name, "arguments": arguments, "capability": capability}
        )
    return Plan.model_validate({"steps": steps})


async def plan_with_clauses(request: str, context: PlanningContext) -> PlanOutcome:
    """:func:`plan_by_clauses` as a :data:`~host.planning.Planner` (``planner: clauses``)."""
    return PlanOutcome(plan_by_clauses(request, context.catalogue), "clauses")


def _clauses(request: str) -> list[str]:
    clauses = [part.strip() for part in _CLAUSE_BREAK.split(request) if part and part.strip()]
    if not clauses:
        raise CannotPlanError("cannot plan an empty request")
    return clauses


def _best_function(clause: str, catalogue: Sequence[FunctionInfo]) -> FunctionInfo:
    """The function sharing most stems with the clause, plus one point per required
    parameter the clause itself fills (a date, a name). A writing clause ("write ...")
    prefers prompt functions, any other clause native ones (tools that fetch or act)."""
    wanted = stems(clause)
    writing = _WRITING.search(clause) is not None
    scored = []
    for info in catalogue:
        shared = len(shared_stems(wanted, info))
        if shared:
            fits = (info.kind == "prompt") == writing
            score = shared + _filled_by_clause(info, clause) + (2 if fits else 0)
            scored.append((score, info.name, info))
    if not scored:
        raise CannotPlanError(f"cannot plan {clause!r}: no loaded function matches it")
    scored.sort(key=lambda item: (-item[0], item[1]))
    return scored[0][2]


def _filled_by_clause(info: FunctionInfo, clause: str) -> int:
    """How many required, non-text parameters a date or a name in the clause would fill."""
    text = text_parameter(info)
    required = [p for p in info.parameters if p.required and p.default is None and p.name != text]
    has_date, has_name = _DATE.search(clause) is not None, bool(_names(clause))
    return sum(has_date if "date" in p.name else has_name for p in required)


def _names(clause: str) -> list[str]:
    """The capitalised names in ``clause`` but its first word, in any alphabet (``Zürich``,
    ``São Paulo``); capitalised words with only spaces between are one name (``New York``)."""
    names: list[str] = []
    start = end = -1
    for word in _WORD.finditer(clause):
        if word.start() == 0 or not word.group()[0].isupper():
            continue
        if names and clause[end : word.start()].isspace():
            names[-1] = clause[start : word.end()]
        else:
            start = word.start()
            names.append(word.group())
        end = word.end()
    return names


def _fill(
    parameter: ParameterInfo,
    clause: str,
    info: FunctionInfo,
    steps: list[dict[str, Any]],
    functions: dict[str, FunctionInfo],
    step_id: str,
) -> Any:
    """The argument a rule gives ``parameter``, adding a helper step if one is needed."""
    if parameter.name == text_parameter(info):
        return clause
    if "date" in parameter.name:
        return _date(clause, info, steps, functions, step_id)
    if parameter.name in _FACT_PARAMETERS and steps:
        return _facts(steps[-1], functions)
    if parameter.type in ("str", "string") and parameter.required:
        names = _names(clause)
        return names[0] if names else None
    return None


def _date(
    clause: str,
    info: FunctionInfo,
    steps: list[dict[str, Any]],
    functions: dict[str, FunctionInfo],
    step_id: str,
) -> Any:
    """The clause's date expression, or a reference to a step resolving it: the plugin's own
    ``resolve_date`` (which knows its places' time zones), else ``clock.resolve_date``."""
    match = _DATE.search(clause)
    if match is None:
        return None
    expression = match.group(1).lower()
    resolver = functions.get(f"{info.plugin}.resolve_date") or functions.get(_DATE_RESOLVER)
    if resolver is None or re.fullmatch(r"\d{4}-\d{2}-\d{2}", expression):
        return expression
    resolver_id = f"{step_id}_date"
    arguments: dict[str, Any] = {}
    for parameter in resolver.parameters:
        value = (
            expression
            if parameter.name == "expression"
            else _fill(parameter, clause, resolver, steps, functions, resolver_id)
        )
        if value is not None:
            arguments[parameter.name] = value
    steps.append(
        {
            "id": resolver_id,
            "function": resolver.name,
            "arguments": arguments,
            "capability": "fetch",
        }
    )
    return {"$ref": f"steps.{resolver_id}.output"}


def _facts(previous: dict[str, Any], functions: dict[str, FunctionInfo]) -> dict[str, str]:
    """A reference to the previous step's output, its ``summary`` when it declares one."""
    info = functions[previous["function"]]
    has_summary = "summary" in info.description
    path = ".summary" if has_summary else ""
    return {"$ref": f"steps.{previous['id']}.output{path}"}


__all__ = ["plan_by_clauses", "plan_with_clauses"]
