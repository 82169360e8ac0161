"""One plan or workflow step: resolved from run state, called, validated, recorded.

:class:`StepRunner` is what the plan executor and the workflow engine share.
:meth:`~StepRunner.resolve` reads a step's references from the
:class:`~host.state.RunState`, adapts each value to its parameter's type and
routes a prompt step by the capability it needs (the route's other models
become its fallbacks), giving a :class:`~host.step_call.StepCall`.
:meth:`~StepRunner.call` runs that call without the run state, replaying a
side-effecting call that already ran under the same idempotency key.
:meth:`~StepRunner.run` does both, then checks the output against the step's
validation, walks ``on_fail`` when it fails, and records the step.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Any

from host.arguments import adapt_output
from host.catalogue import FunctionInfo
from host.effects import IDEMPOTENCY_KEY
from host.errors import (
    AgentHostError,
    ConfigError,
    DeadlineExceededError,
    HumanNeeded,
    InvalidArgumentsError,
    ValidationFailedError,
    describe_error,
    quoted,
)
from host.idempotency import COMPENSATION, effect_key
from host.idempotency import alternative as alternative_of
from host.memo import by_identity
from host.plans import PlanProblem, Ref
from host.progress import StepEvent, StepFinished, listener, reported, tell
from host.state import CallEvent, RunState, StepRecord, spent
from host.step_call import StepCall
from host.validation.checks import Verdict, check, judgement, render

if TYPE_CHECKING:
    from host.idempotency import IdempotencyStore
    from host.invocation import Invoker
    from host.plans import Plan, RefTarget, Step
    from host.progress import Listener
    from host.routing import Router
    from host.telemetry.genai import Tracing
    from host.validation.spec import Validation

FEEDBACK_PARAMETER = "feedback"
"""A function with this parameter gets a failed validation's problems when it is retried."""


class StepRunner:
    """Runs single steps through the host's invoker over a run state."""

    def __init__(
        self,
        invoker: Invoker,
        catalogue: Mapping[str, FunctionInfo],
        router: Router | None = None,
        *,
        validations: Mapping[str, Validation] | None = None,
        effects: IdempotencyStore | None = None,
    ) -> None:
        self._invoker = invoker
        self.catalogue = catalogue
        self._router = router
        self._validations = dict(validations or {})
        self._effects = effects
        self.deadline_scope = invoker.deadline_scope

    @property
    def tracing(self) -> Tracing | None:
        """The host's spans, when tracing is on."""
        return self._invoker.tracing

    def run(
        self,
        step: Step,
        state: RunState,
        *,
        deadline: float | None = None,
        key: str | None = None,
        agent: str | None = None,
    ) -> Awaitable[StepRecord]:
        """Run ``step`` and record it in ``state``: :meth:`resolve`, :meth:`call`, validate.

        ``key`` names this run of the step for idempotency (default: its id; see
        :mod:`host.idempotency`). A failure raises its :class:`AgentHostError`
        with ``error.step`` set; a hand-off raises :class:`HumanNeeded` after
        storing the rejected record. A reference that cannot be resolved raises
        at once.

        A step with no validation and no side effect to key is the invoker's own
        coroutine, which keeps the record in ``state``: no frame of this method is
        held while the step runs. Inside :func:`host.progress.watching`, the step's final
        record is told as it ends.
        """
        watcher = listener()
        if watcher is not None:
            return self._watched(watcher, step, state, deadline, key, agent)
        return self._spanned(step, state, deadline, key, agent)

    def _spanned(
        self,
        step: Step,
        state: RunState,
        deadline: float | None,
        key: str | None,
        agent: str | None = None,
    ) -> Awaitable[StepRecord]:
        """:meth:`run`, in the step's span when tracing is on (an ``agent``'s turn's span)."""
        tracing = self._invoker.tracing
        if tracing is not None:
            return self._traced(tracing, step, state, deadline, key, agent)
        return self._started(step, state, deadline, key)

    async def _watched(
        self,
        watcher: Listener,
        step: Step,
        state: RunState,
        deadline: float | None,
        key: str | None,
        agent: str | None,
    ) -> StepRecord:
        """:meth:`run`, telling ``watcher`` the step's final record (a failed one, and one
        that asks a person, too)."""
        try:
            return await reported(self._spanned(step, state, deadline, key, agent))
        except HumanNeeded:
            asked = state.records.get(step.id)
            if asked is not None:
                tell(watcher, StepFinished(asked))
            raise

    def _started(
        self, step: Step, state: RunState, deadline: float | None, key: str | None
    ) -> Awaitable[StepRecord]:
        """:meth:`run` without a span."""
        info = self.catalogue[step.function]
        call = self._resolved(step, info, state, deadline, key)
        validation = step.validation or self._validations.get(step.function)
        if validation is None and call.effect_key is None:
            return self._invoker.call(info, call, state)
        return self._checked(step, call, validation, state, key)

    async def _traced(
        self,
        tracing: Tracing,
        step: Step,
        state: RunState,
        deadline: float | None,
        key: str | None,
        agent: str | None,
    ) -> StepRecord:
        """:meth:`run` inside the step's span (``invoke_agent`` for an ``agent``'s turn),
        which its record (or failure) fills in."""
        undoing = key is not None and key.startswith(COMPENSATION)
        with tracing.step(
            step.id, step.function, step.capability, compensation=undoing, agent=agent
        ) as span:
            try:
                record = await self._started(step, state, deadline, key)
            except HumanNeeded as asked:
                tracing.ended_step(span, state.records.get(step.id), None)
                span.set_attribute("agent_host.handoff.question", asked.question)
                raise
            except AgentHostError as error:
                tracing.ended_step(span, error.step, error)
                raise
            tracing.ended_step(span, record, None)
            return record

    async def _checked(
        self,
        step: Step,
        call: StepCall,
        validation: Validation | None,
        state: RunState,
        key: str | None,
    ) -> StepRecord:
        """:meth:`run` of a step with a validation or a keyed side effect."""
        try:
            record = await self.call(call)
            if validation is not None:
                info = self.catalogue[step.function]
                record = await self._validated(step, info, call, record, validation, state, key)
        except AgentHostError as error:
            state.fail(error)
            raise
        state.succeed(record)
        return record

    def resolve(
        self,
        step: Step,
        state: RunState,
        *,
        deadline: float | None = None,
        key: str | None = None,
    ) -> StepCall:
        """``step`` made concrete from ``state``: arguments, route and idempotency key.

        Reads the run state and changes nothing. Raises
        :class:`InvalidArgumentsError` when a reference cannot be read or adapted.
        """
        return self._resolved(step, self.catalogue[step.function], state, deadline, key)

    def _resolved(
        self,
        step: Step,
        info: FunctionInfo,
        state: RunState,
        deadline: float | None,
        key: str | None,
    ) -> StepCall:
        """:meth:`resolve` of ``step``, whose function is ``info``."""
        arguments = resolve_arguments(step, info, state)
        effect = None
        if info.side_effects and self._effects is not None:
            effect = effect_key(state.run_id, key or step.id)
        return self._routed(step.id, info, arguments, step.capability, deadline, effect)

    def call(self, call: StepCall) -> Awaitable[StepRecord]:
        """Run a resolved call and return its record; the run state is not involved.

        A side-effecting call with an ``effect_key`` records its intent before it
        acts and its output as soon as it returns. Called again under that key, a
        done effect is replayed from the store instead of acting twice; one whose
        outcome is unknown (the process stopped in between) runs again only if the
        function takes :data:`~host.effects.IDEMPOTENCY_KEY`, and otherwise raises
        :class:`HumanNeeded` asking a person what happened.
        """
        key, effects = call.effect_key, self._effects
        if key is None or effects is None:
            return self._invoke(call)
        return self._call_once(call, key, effects)

    async def _call_once(self, call: StepCall, key: str, effects: IdempotencyStore) -> StepRecord:
        """``call`` with side effects, run at most once under ``key`` (see :meth:`call`)."""
        keyed = self.catalogue[call.function].parameter(IDEMPOTENCY_KEY) is not None
        state, output = effects.get(key)
        if state == "done":
            return _replayed(call, output)
        if state == "pending" and not keyed:
            raise HumanNeeded(call.step_id, _unknown_outcome(call, key))
        if keyed:
            call = call._replace(arguments=_with_key(call, key))
        effects.intend(key, call.function)
        try:
            record = await self._invoke(call)
        except AgentHostError:
            effects.abandon(key)
            raise
        effects.put(key, call.function, record.output)
        return record

    def _invoke(self, call: StepCall) -> Awaitable[StepRecord]:
        """``call`` through the invoker, its route's reason on the record."""
        return self._invoker.call(self.catalogue[call.function], call)

    def unroutable(self, plan: Plan) -> list[PlanProblem]:
        """The steps of ``plan`` whose prompt function no model can take (no model has
        the step's capability): found before the first step runs, not after some acted."""
        if self._router is None:
            return []
        problems: list[PlanProblem] = []
        for step in plan.steps:
            if self.catalogue[step.function].kind != "prompt":
                continue
            try:
                self._router.choose(step.capability)
            except ConfigError as error:
                problems.extend(PlanProblem(step.id, problem) for problem in error.problems)
        return problems

    def _routed(
        self,
        step_id: str,
        info: FunctionInfo,
        arguments: dict[str, Any],
        capability: str,
        deadline: float | None = None,
        effect: str | None = None,
    ) -> StepCall:
        """A call of ``info`` with ``arguments``, routed by ``capability`` if it is a prompt."""
        route = None
        if info.kind == "prompt" and self._router is not None:
            route = self._router.choose(capability)
        return StepCall(
            step_id,
            info.name,
            arguments,
            route.model if route else None,
            route.fallbacks if route else (),
            route.reason if route else None,
            effect,
            deadline,
        )

    async def _validated(
        self,
        step: Step,
        info: FunctionInfo,
        call: StepCall,
        record: StepRecord,
        validation: Validation,
        state: RunState,
        key: str | None,
    ) -> StepRecord:
        """``record`` when its output passes; else the first ``on_fail`` path that helps
        (``key`` names this run of the step, for an alternative's side effect)."""
        named = {
            **{p.name: p.default for p in info.parameters if p.default is not None},
            **call.arguments,
        }
        facts = [render(m, named, state, step.id) for m in validation.mentions]
        trail = list(record.events)
        watcher = listener()

        def note(event: CallEvent) -> None:
            """Add ``event`` to the step's events (told as it happens, when watched)."""
            trail.append(event)
            if watcher is not None:
                tell(watcher, StepEvent(step.id, event))

        attempts = record.attempts
        calls = [record]
        """Every call of the step's function, retries included: the step spent them all."""

        async def judge(function: str, text: str, wanted: str) -> tuple[bool, str]:
            judged = await self._judge(step, function, text, wanted)
            trail.extend(judged.events)
            return judgement(judged.output)

        async def verdict_on(output: Any) -> Verdict:
            verdict = await check(validation, output, facts, judge)
            outcome = "ok" if verdict.passed else "failed"
            problems = "; ".join(verdict.problems) or None
            note(CallEvent("validation", step.function, outcome, error=problems))
            return verdict

        def finished(**fields: Any) -> StepRecord:
            """The step's record after validation; confidence from the model's logprobs when
            it gave them, else the share of checks passed (the lower of the two if both)."""
            shown = verdict.confidence
            if record.confidence is not None:
                shown = min(shown, record.confidence)
            fields.setdefault("confidence", shown)
            return dataclasses.replace(
                record,
                events=tuple(trail),
                attempts=attempts,
                tokens_in=spent(calls, "tokens_in"),
                tokens_out=spent(calls, "tokens_out"),
                cost=spent(calls, "cost"),
                **fields,
            )

        verdict = await verdict_on(record.output)
        if verdict.passed:
            return finished()
        given_up: list[str] = []
        """Why paths that ran into an error of their own failed (an alternative's call)."""
        for path in validation.on_fail:
            if path == "retry" and not info.side_effects:
                for _ in range(validation.retries):
                    retried = {**call.arguments}
                    if info.parameter(FEEDBACK_PARAMETER) is not None:
                        retried[FEEDBACK_PARAMETER] = _feedback(verdict)
                    record = await self.call(call._replace(arguments=retried))
                    calls.append(record)
                    trail.extend(record.events)
                    attempts += record.attempts
                    verdict = await verdict_on(record.output)
                    if verdict.passed:
                        note(CallEvent("on_fail", "retry", "ok"))
                        return finished()
                note(CallEvent("on_fail", "retry", "failed"))
            elif path == "alternative" and validation.alternative is not None:
                try:
                    output, events = await self._alternative(step, named, validation, state, key)
                except (HumanNeeded, DeadlineExceededError):
                    raise
                except AgentHostError as failure:
                    if validation.alternative.function is None:  # a template: a config error
                        raise
                    if failure.step is not None:
                        trail.extend(failure.step.events)
                    why = describe_error(failure)
                    note(CallEvent("on_fail", "alternative", "failed", error=why))
                    given_up.append(f"alternative {validation.alternative.function} failed: {why}")
                    continue
                trail.extend(events)
                note(CallEvent("on_fail", "alternative", "ok"))
                return finished(output=output, degraded=True, confidence=None)
            elif path == "human":
                note(CallEvent("on_fail", "human", "waiting"))
                state.records[step.id] = finished()
                question = self._question(step, named, validation, verdict, state)
                raise HumanNeeded(step.id, question)
            elif path == "abort":
                break
        note(CallEvent("on_fail", "abort", "failed"))
        error = ValidationFailedError(step.id, [*verdict.problems, *given_up])
        error.step = finished(
            status="failed",
            error=str(error),
            error_type=type(error).__name__,
        )
        raise error

    @staticmethod
    def _question(
        step: Step,
        arguments: Mapping[str, Any],
        validation: Validation,
        verdict: Verdict,
        state: RunState,
    ) -> str:
        if validation.question:
            return render(validation.question, arguments, state, step.id)
        return (
            f"step {step.id!r} ({step.function}) failed validation: "
            f"{'; '.join(verdict.problems)}. Reply with the output to use."
        )

    async def _alternative(
        self,
        step: Step,
        arguments: Mapping[str, Any],
        validation: Validation,
        state: RunState,
        key: str | None,
    ) -> tuple[Any, list[CallEvent]]:
        """The alternative path's output: a rendered template, or another function's answer
        (a side-effecting one keyed as the step's :func:`~host.idempotency.alternative`)."""
        alternative = validation.alternative
        assert alternative is not None
        if alternative.template is not None:
            text = render(alternative.template, arguments, state, step.id)
            return text, [CallEvent(kind="fallback", target="template", outcome="ok")]
        assert alternative.function is not None
        other = self.catalogue[alternative.function]
        given = {k: v for k, v in arguments.items() if other.parameter(k) is not None}
        arguments = {**given, **alternative.arguments}
        effect = None
        if other.side_effects and self._effects is not None:
            effect = effect_key(state.run_id, alternative_of(key or step.id))
        answer = await self.call(
            self._routed(step.id, other, arguments, step.capability, None, effect)
        )
        return answer.output, [*answer.events, CallEvent("fallback", other.name, "ok")]

    async def _judge(self, step: Step, function: str, text: str, facts: str) -> StepRecord:
        info = self.catalogue[function]
        offered = {"input": text, "facts": facts}
        arguments = {k: v for k, v in offered.items() if info.parameter(k) is not None}
        return await self.call(self._routed(step.id, info, arguments, "review"))


def resolve_arguments(step: Step, info: FunctionInfo, state: RunState) -> dict[str, Any]:
    """Literal arguments as written, and referenced ones adapted to their parameter's type."""
    literals, references = _layout(step)
    values = dict(literals)
    for name, target in references:
        try:
            values[name] = adapt_output(info, name, state.resolve(target))
        except (KeyError, IndexError, ValueError, TypeError, RecursionError) as error:
            written = step.arguments[name]
            assert isinstance(written, Ref)  # _layout found a reference there
            message = f"argument {name!r}: cannot read {written.ref} ({_unread(error)})"
            raise InvalidArgumentsError(step.function, [message]) from None
    return values


def _unread(error: Exception) -> str:
    """Why a reference could not be read (or its value not taken), in a user's words."""
    if isinstance(error, RecursionError):
        return "nested too deep"
    if isinstance(error, KeyError):
        return f"there is no {quoted(error.args[0]) if error.args else 'such'} field"
    if isinstance(error, IndexError):
        return "the list has no item at that index"
    if isinstance(error, json.JSONDecodeError):
        return "it is text, not JSON with fields"
    return quoted(error)


@by_identity
def _layout(step: Step) -> tuple[dict[str, Any], tuple[tuple[str, RefTarget], ...]]:
    """``step``'s arguments (references still in place) and its parsed references.

    Worked out once per step: a plan run again runs the same frozen steps.
    """
    return dict(step.arguments), tuple(step.references())


def _feedback(verdict: Verdict) -> str:
    return "\nThe previous answer was rejected: " + "; ".join(verdict.problems)


def _with_key(call: StepCall, key: str) -> dict[str, Any]:
    """``call``'s arguments with ``key`` filled in; another key already given is an error."""
    given = call.arguments.get(IDEMPOTENCY_KEY, "")
    if given not in ("", key):
        problem = f"argument {IDEMPOTENCY_KEY!r} is filled by the host (the step's key); remove it"
        raise InvalidArgumentsError(call.function, [problem])
    return {**call.arguments, IDEMPOTENCY_KEY: key}


def _unknown_outcome(call: StepCall, key: str) -> str:
    """The question for a person when ``call``'s effect may or may not have happened."""
    return (
        f"step {call.step_id!r} ({call.function}, effect key {key!r}) was interrupted before its "
        "outcome was recorded, so it may or may not have happened, and the function cannot be "
        "safely run again. Check, then reply with its output (or what was done instead); "
        "the host will not run it again for this run."
    )


def _replayed(call: StepCall, output: Any) -> StepRecord:
    """The record of a side effect answered from the idempotency store, not repeated."""
    event = CallEvent("replayed", call.function, "ok")
    return StepRecord.without_call(
        call.step_id, call.function, call.arguments, output=output, events=(event,)
    )
