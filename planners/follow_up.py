"""Follow-up requests in a conversation: "now the same for Beijing".

A follow-up names only what changes. :func:`follow_up` turns it into a whole
request: the last run's request with its subject replaced. The subject is the
first text argument, in step order, that the last run's steps were given and that
its request states word for word (the city a clause planner read from it, say),
but not the whole request (a step given the request as its text).
Rules, not a model: a follow-up the rules do not read is planned as it is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from host.state import RunResult

_SAME = re.compile(
    r"^\s*(?:(?:and|now|ok|okay|then)[,\s]+)*(?:do\s+)?(?:the\s+)?same(?:\s+thing)?"
    r"\s+(?:for|in|with|about|on)\s+(?P<value>.+?)\s*[.!?]*\s*$",
    re.IGNORECASE,
)


def follow_up(request: str, history: Sequence[RunResult]) -> str | None:
    """The whole request ``request`` stands for after ``history`` (newest last), or
    ``None`` when it is not a follow-up this reads or the last run gives no subject."""
    asked = _SAME.match(request)
    if asked is None or not history:
        return None
    last = history[-1]
    value, whole = asked["value"], last.request.strip().casefold()
    for record in last.steps:
        for given in record.arguments.values():
            if not isinstance(given, str) or given.strip().casefold() in ("", whole):
                continue
            found = re.search(rf"(?<!\w){re.escape(given)}(?!\w)", last.request, re.IGNORECASE)
            if found is not None:
                return last.request[: found.start()] + value + last.request[found.end() :]
    return None
