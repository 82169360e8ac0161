"""Secret values kept out of every message, log line and stored record.

A host registers its config's secrets when it starts (:func:`register`); from
then on, in this process, :func:`redact` replaces each of them in any text with
``***``. The edges apply it: error messages as they are made
(``host.errors``), the error text of records (``host.state``), log records (as
they are created, whichever logger makes them) and everything the CLI prints.
Values shorter than :data:`SHORTEST` are left alone, so that a short setting
(``true``, ``gpt-4``) does not blank out common words.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, TextIO, cast

if TYPE_CHECKING:
    from host.config import LoadedConfig

MASK = "***"
SHORTEST = 8
"""The length from which a value counts as a secret."""

_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None


def register(values: Iterable[str]) -> None:
    """Treat each of ``values`` (of :data:`SHORTEST` characters or more) as a secret from now on.

    The forms it takes quoted in JSON or in a ``repr`` count too.
    """
    global _pattern
    fresh = {form for value in values if len(value) >= SHORTEST for form in _forms(value)}
    if fresh <= _secrets:
        return
    if _pattern is None:
        _redact_log_records()
    _secrets.update(fresh)
    longest_first = sorted(_secrets, key=len, reverse=True)
    _pattern = re.compile("|".join(map(re.escape, longest_first)))


def any_registered() -> bool:
    """Whether a secret is registered here (until one is, :func:`redact` changes nothing)."""
    return _pattern is not None


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    return text if _pattern is None else _pattern.sub(MASK, text)


def config_secrets(loaded: LoadedConfig) -> set[str]:
    """The values ``loaded`` makes secret: each model's key and whatever ``.env`` supplied.

    A model key is the value of its key variable (``api_key_env``, else its
    provider's default, which a ``provider/model`` fallback uses too). A
    ``.env`` value is one the config's environment holds and the process
    environment does not, as the real environment wins over ``.env``.
    """
    rows = loaded.config.models.values()
    return environment_secrets({row.secret_variable for row in rows}, loaded.environment)


def environment_secrets(variables: Iterable[str | None], environment: dict[str, str]) -> set[str]:
    """The values of ``variables`` (and of every provider's default key variable) in
    ``environment``, and every value only ``.env`` supplied (see :func:`config_secrets`)."""
    from host.config.schema import DEFAULT_API_KEY_ENV

    named = {*variables, *DEFAULT_API_KEY_ENV.values()}
    keys = {environment[name] for name in named if name and name in environment}
    dotenv = {value for name, value in environment.items() if os.environ.get(name) != value}
    return keys | dotenv


@contextlib.contextmanager
def redacted_output() -> Iterator[None]:
    """While inside, everything written to ``sys.stdout`` and ``sys.stderr`` is redacted."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _redacting(sys.stdout), _redacting(sys.stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


class _RedactingStream:
    """A text stream that passes on everything written to it with secrets masked."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(redact(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _redacting(stream: TextIO) -> TextIO:
    return cast(TextIO, _RedactingStream(stream))


def _forms(value: str) -> set[str]:
    """``value`` as it is, and as it appears inside quotes in JSON (both ways) and a ``repr``."""
    return {
        value,
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        repr(value)[1:-1],
    }


def _redact_log_records() -> None:
    """Make every log record from now on carry its message (and traceback) redacted.

    A record factory rather than a ``logging.Filter``: a logger's filter does not
    see the records of its child loggers, and any library's logger may quote an error.
    """
    make = logging.getLogRecordFactory()

    def redacted_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed call: logging reports it on emit
            return record
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(redacted_record)
