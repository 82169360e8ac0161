"""A resolved step: everything one call needs, as plain data that can cross a process.

A step runs in two halves. *Resolve* reads the run state: references become
concrete arguments, and a prompt step gets its route. *Call* takes only the
:class:`StepCall` and returns the output and its record; it never sees the run
state, so it can run in another process (a worker, a durable activity) from
the JSON form of its input.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from host.errors import InvalidArgumentsError


class StepCall(NamedTuple):
    """One step's call, resolved: function, concrete arguments, route and idempotency key.

    ``model`` and ``fallbacks`` are the routed model and the capable models to
    fall back to (``None`` and ``()`` for a native function); ``effect_key`` is
    set when the function has side effects, so a repeated call replays its
    recorded output; ``deadline`` bounds the call in seconds. A named tuple:
    immutable, and cheap to build once per step.
    """

    step_id: str
    function: str
    arguments: dict[str, Any]
    model: str | None = None
    fallbacks: tuple[str, ...] = ()
    route_reason: str | None = None
    effect_key: str | None = None
    deadline: float | None = None

    def to_json(self) -> str:
        """The call as JSON text; arguments that are not JSON data are an error naming them."""
        try:
            return json.dumps(self._asdict(), ensure_ascii=False)
        except (TypeError, ValueError) as error:
            problem = f"arguments are not JSON data ({error})"
            raise InvalidArgumentsError(self.function, [problem]) from None

    @classmethod
    def from_json(cls, text: str) -> StepCall:
        """The call :meth:`to_json` wrote; ``ValueError`` naming what is wrong otherwise."""
        try:
            data = json.loads(text)
            return cls(**{**data, "fallbacks": tuple(data.get("fallbacks", ()))})
        except (TypeError, ValueError, AttributeError) as error:
            raise ValueError(f"not a step call in JSON: {error}") from None
