"""Run state: each step's output and the metadata later decisions and traces rely on.

A :class:`StepRecord` is the boundary of one step — arguments in, output and
metadata out — so the executor, tracing, the REPL and the HTTP API all read
the same record. Its :class:`CallEvent` s are what happened inside the step:
every attempt, fallback hop, cache serve and breaker change (tracing turns
them into spans).

Records, events and results are values: once made, nothing changes them; a
changed one is a copy (``dataclasses.replace``). They are plain slotted
dataclasses rather than frozen ones, because a frozen dataclass sets each field
through ``object.__setattr__``, which made building a record the largest cost
of a step after Semantic Kernel itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from host.errors import AgentHostError, HumanNeeded, describe_error
from host.redaction import redact

if TYPE_CHECKING:
    from host.plans import RefTarget

EventKind = Literal[
    "attempt",
    "fallback",
    "cache_hit",
    "stale_served",
    "breaker",
    "rejected",
    "validation",
    "on_fail",
    "replayed",
    "answered",
    "transfer",
]


@dataclass(slots=True)
class CallEvent:
    """One thing that happened while running a step.

    ``outcome`` is ``ok``/``error``/``timeout`` for attempts, the hop's result for
    fallbacks, the new state (``open``/``half_open``/``closed``) for breakers,
    ``invalid_arguments`` for a model's tool call that was rejected, ``ok``/``failed``
    for a validation, the path's result for an ``on_fail`` step (retry, alternative,
    human, abort), and ``ok`` for an idempotent ``replayed`` effect, a person's
    ``answered`` hand-off and an agent's ``transfer`` to another (its target).
    """

    kind: EventKind
    target: str
    outcome: str
    attempt: int | None = None
    model: str | None = None
    """The configured model, when the target is a model call."""
    error_type: str | None = None
    error: str | None = None
    latency_ms: float | None = None

    def __post_init__(self) -> None:
        _redact_error(self)

    @classmethod
    def failed(
        cls, kind: EventKind, target: str, outcome: str, error: BaseException, **fields: Any
    ) -> CallEvent:
        """An event caused by ``error``: its class name and one-line description filled in."""
        return cls(
            kind=kind,
            target=target,
            outcome=outcome,
            error_type=type(error).__name__,
            error=describe_error(error),
            **fields,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return asdict(self)


def _redact_error(record: CallEvent | StepRecord) -> None:
    """Mask configured secrets in a record's error text, so no store or printout shows one."""
    if record.error is not None:
        record.error = redact(record.error)


StepStatus = Literal["ok", "failed"]
RunStatus = Literal[
    "ok",
    "failed",
    "needs_human",
    "round_limit",
    "budget_exceeded",
    "stalled",
    "deadline_exceeded",
    "cancelled",
]
"""``needs_human``: paused for a person's answer (``AgentHost.resume``); ``round_limit``:
a workflow or team hit its cap on rounds; ``budget_exceeded``: a team spent its token or
cost budget; ``stalled``: a team's agents said the same thing too many times in a row;
``deadline_exceeded``: a team's run passed its deadline;
``cancelled``: the task running it was cancelled (the steps done by then are kept)."""


@dataclass(slots=True)
class StepRecord:
    """What one step did: its function, outcome, route and cost."""

    step_id: str
    function: str
    arguments: dict[str, Any]
    status: StepStatus
    started_at: datetime
    latency_ms: float
    output: Any = None
    error: str | None = None
    error_type: str | None = None
    model: str | None = None
    """The configured model name that served a prompt function (``None`` for native ones)."""
    provider: str | None = None
    model_id: str | None = None
    route_reason: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost: float | None = None
    confidence: float | None = None
    attempts: int = 0
    cache_hit: bool = False
    degraded: bool = False
    """A stale cache entry or a fixed fallback value stands in for a real answer."""
    events: tuple[CallEvent, ...] = ()
    """Every attempt, fallback hop, cache serve and breaker change, in order."""

    def __post_init__(self) -> None:
        _redact_error(self)

    @classmethod
    def without_call(
        cls, step_id: str, function: str, arguments: dict[str, Any], **fields: Any
    ) -> StepRecord:
        """The record of a step that called nothing, now: a replayed effect, a person's
        answer or question, a failure before the call."""
        fields.setdefault("status", "ok")
        return cls(
            step_id, function, arguments, started_at=datetime.now(UTC), latency_ms=0.0, **fields
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (the datetime as ISO text, the output as given)."""
        data = asdict(self)
        data["started_at"] = self.started_at.isoformat()
        data["events"] = [event.to_dict() for event in self.events]
        return data


Spending = Literal["tokens_in", "tokens_out", "cost"]
"""The fields of a record that say what its calls spent."""


def spent(records: Iterable[StepRecord], field: Spending) -> Any:
    """The sum of ``field`` over ``records``; ``None`` when none of them has it."""
    given = [value for record in records if (value := getattr(record, field)) is not None]
    return sum(given) if given else None


@dataclass(slots=True)
class RunResult:
    """The outcome of ``AgentHost.run``: final output, every step, and the run's id."""

    run_id: str
    request: str
    status: RunStatus
    output: Any
    steps: tuple[StepRecord, ...] = field(default_factory=tuple)
    plan: str | None = None
    """Why these steps were chosen, in one line."""
    error: str | None = None
    question: str | None = None
    """What the person is asked when the run is ``needs_human``."""
    waiting_step: str | None = None
    """The step whose output the person's answer becomes (``needs_human`` runs)."""
    compensations: tuple[StepRecord, ...] = ()
    """Undo calls of completed steps after a terminal failure, in the order they ran."""
    planning: tuple[StepRecord, ...] = ()
    """The planning model's calls that produced the plan (none for the clause planner)."""
    trace_id: str | None = None
    """The OpenTelemetry trace of the run, when it was traced."""

    @property
    def degraded(self) -> bool:
        """Whether any step's output is a stand-in (template, stale cache, fixed value)."""
        return any(step.degraded for step in self.steps)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (``run --json`` prints this)."""
        return {
            "run_id": self.run_id,
            "request": self.request,
            "status": self.status,
            "output": self.output,
            "degraded": self.degraded,
            "plan": self.plan,
            "error": self.error,
            "question": self.question,
            "waiting_step": self.waiting_step,
            "steps": [step.to_dict() for step in self.steps],
            "compensations": [step.to_dict() for step in self.compensations],
            "planning": [step.to_dict() for step in self.planning],
            "trace_id": self.trace_id,
        }


class RunState:
    """One run's shared state: named input values, each step's output and record.

    Downstream steps read it through references (``steps.<id>.output.<field>``,
    ``state.<key>``); conditions and validations read the records' metadata.
    """

    __slots__ = ("completed", "outputs", "records", "run_id", "values")

    def __init__(self, values: Mapping[str, Any] | None = None, *, run_id: str = "") -> None:
        self.run_id = run_id
        self.values: dict[str, Any] = dict(values or {})
        self.outputs: dict[str, Any] = {}
        self.records: dict[str, StepRecord] = {}
        self.completed: list[str] = []
        """Ids of the steps that succeeded, in the order they finished."""

    def succeed(self, record: StepRecord) -> None:
        """Store a step's successful record and output."""
        self.records[record.step_id] = record
        self.outputs[record.step_id] = record.output
        self.completed.append(record.step_id)

    def fail(self, error: AgentHostError) -> None:
        """Store a failed step's record (a hand-off's is stored by the step that asks)."""
        if error.step is not None and not isinstance(error, HumanNeeded):
            self.records[error.step.step_id] = error.step

    def answer(self, step_id: str, function: str, text: Any) -> StepRecord:
        """Store a person's answer as ``step_id``'s output; the asking record's events stay."""
        event = CallEvent("answered", "human", "ok")
        asked = self.records.get(step_id)
        if asked is not None:
            record = replace(asked, output=text, events=(*asked.events, event), confidence=None)
        else:
            record = StepRecord.without_call(step_id, function, {}, output=text, events=(event,))
        self.succeed(record)
        return record

    def resolve(self, target: RefTarget) -> Any:
        """The value a reference points at: a step's output (or a field of it) or a state value."""
        if target.source == "state":
            value, path = self.values[target.path[0]], target.path[1:]
        else:
            value, path = self.outputs[str(target.step)], target.path
        for key in path:
            value = field_of(value, key)
        return value


def field_of(value: Any, key: str) -> Any:
    """``value[key]``, reading JSON text first and indexing lists by number."""
    if isinstance(value, str):
        value = json.loads(value)
    if isinstance(value, list):
        return value[int(key)]
    return value[key]


async def settled(result: RunResult) -> RunResult:
    """``result`` as a run's coroutine gives it: for a run that ended before it started
    (a plan that failed its checks), where the caller returns a run's coroutine."""
    return result
