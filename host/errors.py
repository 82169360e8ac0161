"""The agent-host exception tree.

Every error the host raises on purpose derives from :class:`AgentHostError` and
knows whether retrying the same call could succeed (``retryable``)::

    AgentHostError
    ├── ConfigError            bad configuration; ``problems`` lists each one
    │   ├── MissingSecretError a model's secret variable is not set
    │   └── WorkflowError      a workflow definition is invalid
    ├── LoadError              a plugin or prompt file could not be loaded
    ├── FunctionNotFoundError  no loaded function has that name
    ├── InvalidArgumentsError  arguments do not fit the function's parameters
    ├── PlanError              a plan is invalid; ``problems`` lists each one
    ├── CannotPlanError        no planner could plan the request; the message says what is missing
    ├── ProviderError          a model provider failed (translated at the edge)
    ├── FunctionFailedError    a function raised while running
    ├── AttemptTimeoutError    one attempt ran past its timeout (retryable)
    ├── CircuitOpenError       the target's circuit breaker is open; not called
    ├── RetriesExhaustedError  every attempt failed; ``attempts`` lists each error
    ├── DeadlineExceededError  the run's overall deadline passed
    ├── ValidationFailedError  a step's output failed its checks and no on_fail path helped
    ├── HumanNeeded            a step hands off to a person; the run pauses until resumed
    ├── UnknownRunError        no paused run has that id
    ├── RunWaitingError        a run to execute under an id that is waiting for a person
    ├── RunBusyError           another resume holds that paused run now (retryable)
    ├── LostClaimError         a resume's claim lapsed and another resume took its run
    └── TransitionError        a workflow node asked for a move its graph does not allow

The CLI prints ``str(error)`` as one line and exits non-zero; callers of the
Python API may rely on the class and its attributes, not on the message text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from host.redaction import redact

if TYPE_CHECKING:
    from host.plans import PlanProblem
    from host.state import StepRecord


QUOTED_LENGTH = 200
"""How much of a value a message quotes before cutting it short."""


def quoted(value: object) -> str:
    """``repr(value)`` for a message, cut to :data:`QUOTED_LENGTH` characters with an
    ellipsis and the full length when longer: a 1 MB argument stays one readable line.
    Secrets are masked before the cut, so none is left half shown."""
    text = redact(repr(value))
    if len(text) <= QUOTED_LENGTH:
        return text
    return f"{text[:QUOTED_LENGTH]}… ({len(text)} characters)"


class AgentHostError(Exception):
    """Base of every error agent-host raises on purpose.

    ``step`` holds the failed step's record (attempts, hops) when a step failed.
    The message never shows a configured secret (see :mod:`host.redaction`).
    """

    retryable: bool = False
    step: StepRecord | None = None

    def __init__(self, *args: object) -> None:
        super().__init__(*(redact(arg) if isinstance(arg, str) else arg for arg in args))


class ConfigError(AgentHostError):
    """Configuration is invalid; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class MissingSecretError(ConfigError):
    """A model needs a secret (an environment variable) that is not set."""

    def __init__(self, variable: str, model: str) -> None:
        self.variable = variable
        self.model = model
        super().__init__(
            [
                f"model {model!r} needs the environment variable {variable}, which is not set "
                "(set it in the environment or in .env; see .env.example)"
            ]
        )


class LoadError(AgentHostError):
    """A plugin or prompt source could not be loaded."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")


class FunctionNotFoundError(AgentHostError):
    """No loaded function has the requested ``plugin.function`` name."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        hint = ", ".join(sorted(known)) or "none are loaded"
        super().__init__(f"no function named {name!r} (loaded: {hint})")


class InvalidArgumentsError(AgentHostError):
    """Arguments are missing, unknown or of the wrong type for a function."""

    def __init__(self, function: str, problems: list[str]) -> None:
        self.function = function
        self.problems = problems
        super().__init__(f"{function}: " + "; ".join(problems))


class PlanError(AgentHostError):
    """A plan is invalid; ``problems`` holds every problem, one per line in the message."""

    def __init__(self, problems: Sequence[PlanProblem]) -> None:
        self.problems = list(problems)
        super().__init__("invalid plan:\n" + "\n".join(f"- {p}" for p in self.problems))


class CannotPlanError(AgentHostError):
    """No planner could plan the request; the message names what was missing."""


class ProviderError(AgentHostError):
    """A model provider failed; ``retryable`` says whether a retry may help.

    ``status`` is the HTTP status when there was one; ``retry_after`` the
    server's requested wait in seconds (``Retry-After`` on 429/503).
    """

    def __init__(
        self,
        model: str,
        reason: str,
        *,
        retryable: bool = False,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.model = model
        self.reason = reason
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after
        super().__init__(f"model {model!r}: {reason}")


class FunctionFailedError(AgentHostError):
    """A plugin or prompt function raised while running."""

    def __init__(self, function: str, reason: str, *, retryable: bool = False) -> None:
        self.function = function
        self.reason = reason
        self.retryable = retryable
        super().__init__(f"{function} failed: {reason}")


class AttemptTimeoutError(AgentHostError):
    """One attempt at ``target`` took longer than ``seconds``; it was cancelled."""

    retryable = True

    def __init__(self, target: str, seconds: float) -> None:
        self.target = target
        self.seconds = seconds
        super().__init__(f"{target} timed out after {seconds:g}s")


class CircuitOpenError(AgentHostError):
    """``target`` failed too often recently; calls skip it until ``retry_in`` passes."""

    def __init__(self, target: str, retry_in: float) -> None:
        self.target = target
        self.retry_in = retry_in
        super().__init__(f"{target}: circuit open, next probe in {retry_in:g}s")


class RetriesExhaustedError(AgentHostError):
    """Every attempt at ``target`` failed; ``attempts`` holds each attempt's error."""

    def __init__(self, target: str, attempts: list[AgentHostError]) -> None:
        self.target = target
        self.attempts = attempts
        listed = "; ".join(_attempt_runs([describe_error(e) for e in attempts]))
        super().__init__(f"{target} failed after {len(attempts)} attempt(s): {listed}")


_LISTED_RUNS = 4
"""The most runs of attempts an error lists: the first ones and the last, the rest counted."""


def _attempt_runs(described: list[str]) -> list[str]:
    """``#1 error``, one per run of attempts that failed alike (``#2-#9 error``); past
    :data:`_LISTED_RUNS` runs, the first ones, how many are left out, and the last."""
    runs: list[tuple[int, int, str]] = []
    for number, text in enumerate(described, 1):
        if runs and runs[-1][2] == text:
            runs[-1] = (runs[-1][0], number, text)
        else:
            runs.append((number, number, text))
    shown = [f"#{first} {text}" if first == last else f"#{first}-#{last} {text}"
             for first, last, text in runs]  # fmt: skip
    if len(shown) > _LISTED_RUNS:
        left_out = len(shown) - _LISTED_RUNS
        shown[_LISTED_RUNS - 1 : -1] = [f"({left_out} more run(s) of attempts)"]
    return shown


class DeadlineExceededError(AgentHostError):
    """The run's overall deadline of ``seconds`` passed; everything in flight was cancelled."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"deadline of {seconds:g}s exceeded")


class ValidationFailedError(AgentHostError):
    """Step ``step_id``'s output failed its validation; ``problems`` lists each failed check."""

    def __init__(self, step_id: str, problems: list[str]) -> None:
        self.step_id = step_id
        self.problems = problems
        super().__init__(f"step {step_id!r} failed validation: " + "; ".join(problems))


class HumanNeeded(AgentHostError):
    """Step ``step_id`` needs a person's answer to ``question``; the run pauses as ``needs_human``.

    Raised by a hand-off (a validation's ``human`` path or a workflow's
    approval node); ``AgentHost.resume(run_id, answer)`` continues the run.
    """

    def __init__(self, step_id: str, question: str) -> None:
        self.step_id = step_id
        self.question = question
        super().__init__(f"step {step_id!r} needs a person: {question}")


class UnknownRunError(AgentHostError):
    """``resume`` named a run that is not waiting for a person on this host."""

    def __init__(self, run_id: str, waiting: list[str]) -> None:
        self.run_id = run_id
        listed = ", ".join(sorted(waiting)) or "none"
        super().__init__(f"no run {run_id!r} is waiting for a person (waiting: {listed})")


class RunWaitingError(AgentHostError):
    """``execute`` was given the id of a run that is waiting for a person: run again, it
    would replace that pause (and take it from a resume holding it); ``resume`` it."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(
            f"run {run_id!r} is waiting for a person: resume it (agent-host resume {run_id} "
            "ANSWER) rather than run it again"
        )


class WorkflowError(ConfigError):
    """A workflow definition is invalid; ``problems`` holds one line per problem."""


class TeamError(ConfigError):
    """A team definition is invalid; ``problems`` holds one line per problem."""


class TransitionError(AgentHostError):
    """Workflow node ``node`` cannot move on: what it asked for is not an edge, or no edge applies.

    ``wanted`` is the value the node's ``next_from`` gave (as ``repr``), or
    ``None`` when the node names nothing and no edge's condition held;
    ``allowed`` describes the moves its edges permit.
    """

    def __init__(self, node: str, allowed: list[str], *, wanted: str | None = None) -> None:
        self.node = node
        self.wanted = wanted
        self.allowed = allowed
        if wanted is None:
            reason = f"no edge from node {node!r} applies"
        else:
            reason = f"node {node!r} asked for {wanted}, which is not an edge of the graph"
        super().__init__(f"{reason} (allowed from {node}: {', '.join(allowed) or 'none'})")


def describe_error(error: BaseException) -> str:
    """One line for any error: its class and the first line of its message (pydantic's
    ``ValidationError``: every field and what is wrong with it), secrets masked."""
    text = redact(fields_text(error) or str(error).strip())
    return f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__


def fields_text(error: BaseException) -> str | None:
    """A pydantic ``ValidationError`` as one line, ``Model: field: what is wrong; …``
    (its own text takes a paragraph per field, behind a count); ``None`` for another error.
    Read by duck typing: importing pydantic here would slow every command's start."""
    if type(error).__name__ != "ValidationError" or not callable(getattr(error, "errors", None)):
        return None
    return f"{getattr(error, 'title', None)}: {'; '.join(field_problems(error))}"


def field_problems(error: Any, whole: str = "") -> list[str]:
    """Each problem of a pydantic ``ValidationError``, once: ``path.to.field: what is
    wrong``, or ``whole: what is wrong`` (just the problem, without ``whole``) at the root."""
    lines: list[str] = []
    for detail in error.errors(include_url=False):
        where = ".".join(str(part) for part in detail["loc"]) or whole
        line = f"{where}: {detail['msg']}" if where else str(detail["msg"])
        if line not in lines:
            lines.append(line)
    return lines


class RunBusyError(AgentHostError):
    """``resume`` named a run that another resume holds now; retry after ``expires_in`` seconds.

    A resume claims its run for a lease it keeps renewing while it runs; the
    claim of a resume that crashed lapses when its lease runs out.
    """

    retryable = True

    def __init__(self, run_id: str, expires_in: float) -> None:
        self.run_id = run_id
        self.expires_in = expires_in
        super().__init__(
            f"run {run_id!r} is being resumed elsewhere (its claim lapses in "
            f"{max(expires_in, 0.0):.0f}s if that resume stops without finishing)"
        )


class LostClaimError(AgentHostError):
    """A resume of ``run_id`` lost its claim: it went ``lease`` seconds without renewing it
    (its process stalled), and another resume took the run over. What this resume did
    after that is not kept: the run is as the other resume leaves it."""

    def __init__(self, run_id: str, lease: float) -> None:
        self.run_id = run_id
        self.lease = lease
        super().__init__(
            f"run {run_id!r}: this resume lost its claim (not renewed within its {lease:g}s "
            "lease) and another resume took the run over; this resume's pause was not kept"
        )
