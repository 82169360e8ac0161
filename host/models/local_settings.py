"""Request settings of the embedded model: greedy and short by default, JSON or grammar bound."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, field_validator, model_validator
from semantic_kernel.connectors.ai.prompt_execution_settings import PromptExecutionSettings

_FORMAT_TYPES = ("text", "json_object", "json_schema")


class LocalExecutionSettings(PromptExecutionSettings):
    """Request settings of the embedded model; defaults are greedy and short.

    ``response_format`` accepts OpenAI's shapes, ``{"type": "json_object"}`` and
    ``{"type": "json_schema", "json_schema": {"name": ..., "schema": {...}}}``, and
    llama.cpp's ``{"type": "json_object", "schema": {...}}``. A JSON format
    constrains decoding with a grammar, so the reply parses unless ``max_tokens``
    cuts it short (``finish_reason`` is then ``length``).

    ``grammar`` (llama.cpp only; other providers ignore it) constrains a free-text
    reply with a GBNF grammar whose start rule is ``root``. The base model never
    ends a turn by itself, so a grammar that ends is how prose replies stop cleanly.
    """

    max_tokens: int | None = Field(default=256, gt=0)
    temperature: float | None = Field(default=0.0, ge=0.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    stop: str | list[str] | None = None
    seed: int | None = None
    response_format: dict[str, Any] | None = None
    grammar: str | None = Field(default=None, min_length=1)

    @field_validator("response_format")
    @classmethod
    def _known_shape(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        kind = value.get("type")
        if kind not in _FORMAT_TYPES:
            raise ValueError(f"response_format.type must be one of {_FORMAT_TYPES}, got {kind!r}")
        if kind == "json_schema":
            inner = value.get("json_schema")
            if not isinstance(inner, Mapping) or not isinstance(inner.get("schema"), Mapping):
                raise ValueError("response_format.json_schema.schema must be a JSON schema object")
        elif "schema" in value and not isinstance(value["schema"], Mapping):
            raise ValueError("response_format.schema must be a JSON schema object")
        return value

    @model_validator(mode="after")
    def _one_constraint(self) -> LocalExecutionSettings:
        if self.grammar is not None and self.llama_response_format() is not None:
            raise ValueError("give either grammar or a JSON response_format, not both")
        return self

    def llama_response_format(self) -> dict[str, Any] | None:
        """``response_format`` in llama.cpp's shape, or None for free text."""
        value = self.response_format
        if value is None or value["type"] == "text":
            return None
        if value["type"] == "json_schema":
            return {"type": "json_object", "schema": dict(value["json_schema"]["schema"])}
        if "schema" in value:
            return {"type": "json_object", "schema": dict(value["schema"])}
        return {"type": "json_object"}
