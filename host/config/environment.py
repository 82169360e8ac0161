"""``${VAR}`` and ``${VAR:-default}`` interpolation from the environment and ``.env``."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Mapping
from typing import Any

import yaml
from dotenv import dotenv_values
from dotenv.parser import Binding, parse_stream

from host.errors import ConfigError

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_SCALAR = re.compile(r"^(true|false|True|False|-?(0|[1-9]\d*)(\.\d+)?)$")
"""A value YAML reads as a bool or a decimal number: not ``0123``, which YAML 1.1 reads as
octal (83), so a PIN or an id with leading zeros stays text."""
_NEWLINE = re.compile(r"\r\n|\n|\r")
_ESCAPED = re.compile(r"\\.")


def read_environment(dotenv: str | None, *, source: str) -> dict[str, str]:
    """The variables config may use: those of ``dotenv`` (the text of a ``.env`` file)
    overridden by the real environment.

    Raises :class:`ConfigError` with ``source:line`` for each line python-dotenv cannot
    parse, which it would skip (with every line an unterminated quote runs on into),
    never quoting the line: it may hold a secret.
    """
    merged: dict[str, str] = {}
    if dotenv is not None:
        unparsed = [binding for binding in parse_stream(io.StringIO(dotenv)) if binding.error]
        if unparsed:
            raise ConfigError([f"{source}:{_unparsed(binding)}" for binding in unparsed])
        values = dotenv_values(stream=io.StringIO(dotenv))
        merged.update({k: v for k, v in values.items() if v is not None})
    merged.update(os.environ)
    return merged


def _unparsed(binding: Binding) -> str:
    """``line: cannot parse this line (why?)`` for a line python-dotenv could not parse
    (its ``original.line`` counts from the blank lines before the line)."""
    text = binding.original.string
    line = binding.original.line + len(_NEWLINE.findall(text, 0, len(text) - len(text.lstrip())))
    first = _ESCAPED.sub("", text.lstrip().splitlines()[0])
    open_quote = first.count('"') % 2 or first.count("'") % 2
    reason = "unterminated quote?" if open_quote else "expected NAME=value"
    return f"{line}: cannot parse this line ({reason})"


def interpolate(node: Any, env: Mapping[str, str], path: str, problems: list[str]) -> Any:
    """Replace references in every string of ``node``; record unset variables in ``problems``.

    ``path`` is the key path of ``node`` as validation names it (``models.w.options.0``).
    """
    if isinstance(node, dict):
        return {
            key: interpolate(value, env, f"{path}.{key}" if path else str(key), problems)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [interpolate(item, env, f"{path}.{i}", problems) for i, item in enumerate(node)]
    if not isinstance(node, str):
        return node

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env and env[name] != "":
            return env[name]
        if default is not None:
            return default
        problems.append(f"{path}: ${{{name}}} is not set (set it in the environment or .env)")
        return ""

    whole = _REFERENCE.fullmatch(node)
    value = _REFERENCE.sub(substitute, node)
    if whole is not None and value != "":
        # A value that is one reference keeps its YAML type: "${RETRIES:-2}" is 2, not "2".
        return yaml.safe_load(value) if _SCALAR.match(value) else value
    return value
