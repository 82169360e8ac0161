"""The shape of a validation node, shared by plans, workflows and ``host.yaml`` defaults.

Text fields that name values (``mentions``, an alternative's ``template`` and
``question``) are templates: ``{facts}`` is the step's own argument ``facts``;
``{steps.weather.output.max_c}`` and ``{state.city}`` read the run state.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

if TYPE_CHECKING:
    from referencing._core import Resolver

OnFail = Literal["retry", "alternative", "human", "abort"]
"""What to try, in order, when a step's output fails its checks."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Alternative(_Strict):
    """The path taken instead: another function (with arguments) or a text template."""

    function: str | None = Field(default=None, pattern=r"^[A-Za-z_]\w*\.[A-Za-z_]\w*$")
    arguments: dict[str, JsonValue] = Field(default_factory=dict)
    """Literal arguments; those not given are taken from the step's own by name."""
    template: str | None = None

    @model_validator(mode="after")
    def _one_path(self) -> Alternative:
        if (self.function is None) == (self.template is None):
            raise ValueError("alternative: expected exactly one of function or template")
        return self


class Validation(_Strict):
    """Checks on a step's output and the ``on_fail`` paths tried, in order, when one fails.

    - ``json_schema``: the output is JSON fitting this schema;
    - ``regex``: the output matches (``re.search``);
    - ``mentions``: each template's facts appear in the output — its numbers
      (dates aside) when it has any, else its whole text, case-insensitively;
    - ``judge``: a prompt function asked about the output (``input`` = the
      output, ``facts`` = the mentions); it answers JSON ``{"ok": ..., "reason": ...}``
      or text starting with yes/no.

    ``on_fail``: ``retry`` runs the step again up to ``retries`` times, passing
    the problems as its ``feedback`` argument when it has one; ``alternative``
    runs :class:`Alternative` (its output is marked degraded); ``human`` pauses
    the run as ``needs_human`` with ``question``; ``abort`` fails the step.
    """

    json_schema: dict[str, JsonValue] | None = None
    regex: str | None = None
    mentions: list[str] = Field(default_factory=list)
    judge: str | None = Field(default=None, pattern=r"^[A-Za-z_]\w*\.[A-Za-z_]\w*$")
    on_fail: tuple[OnFail, ...] = Field(default=("abort",), min_length=1)
    retries: int = Field(default=1, ge=0, le=10)
    alternative: Alternative | None = None
    question: str | None = None

    @field_validator("regex")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"regex {pattern!r} does not compile: {error}") from None
        return pattern

    @field_validator("json_schema")
    @classmethod
    def _schema_checks(cls, schema: dict[str, JsonValue] | None) -> dict[str, JsonValue] | None:
        if schema is not None:
            check_schema(schema)
        return schema

    @model_validator(mode="after")
    def _paths_complete(self) -> Validation:
        if not (self.json_schema or self.regex or self.mentions or self.judge):
            raise ValueError("expected at least one check: json_schema, regex, mentions or judge")
        if "alternative" in self.on_fail and self.alternative is None:
            raise ValueError("on_fail lists alternative but no alternative is given")
        return self


def check_schema(schema: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` naming where ``schema`` is not a valid JSON Schema (2020-12)."""
    import jsonschema

    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as error:
        where = "".join(f"[{part!r}]" for part in error.absolute_path)
        at = f" at {where}" if where else ""
        raise ValueError(f"not a valid JSON Schema{at}: {error.message}") from None
    unresolved = _unresolved_refs(schema)
    if unresolved:
        raise ValueError("not a valid JSON Schema: " + "; ".join(unresolved))


_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions"})
"""Keywords whose value maps names to subschemas (a name there may be any word)."""
_DATA = frozenset({"const", "enum", "default", "examples"})
"""Keywords whose value is data, not a schema: a ``$ref`` inside one is not a reference."""


def _unresolved_refs(schema: Mapping[str, Any]) -> list[str]:
    """Where a ``$ref`` of ``schema`` points at nothing within it (or the JSON Schema
    specifications): a remote schema is never fetched, so a ref to one is listed too."""
    from jsonschema_specifications import REGISTRY  # type: ignore[import-untyped]
    from referencing.exceptions import Unresolvable
    from referencing.jsonschema import DRAFT202012

    problems: list[str] = []

    def walk(node: Any, resolver: Resolver[Any], path: tuple[str | int, ...], names: bool) -> None:
        if isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, resolver, (*path, index), False)
            return
        if not isinstance(node, dict):
            return
        if not names:
            resolver = resolver.in_subresource(DRAFT202012.create_resource(node))
            ref = node.get("$ref")
            if isinstance(ref, str):
                try:
                    resolver.lookup(ref)
                except Unresolvable:
                    at = "".join(f"[{part!r}]" for part in path)
                    where = f"{at}: " if at else ""
                    problems.append(f"{where}$ref {ref!r} does not resolve within the schema")
        for key, value in node.items():
            if names or key not in _DATA:
                walk(value, resolver, (*path, key), not names and key in _SCHEMA_MAPS)

    root = DRAFT202012.create_resource(schema)
    walk(schema, REGISTRY.resolver_with_root(root), (), False)
    return problems
