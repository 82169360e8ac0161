"""The async Python API: :class:`AgentHost`."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import time
from collections.abc import Coroutine, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from host.catalogue import FunctionInfo, describe_kernel
from host.clock import Clock, SystemClock
from host.config import HostConfig, LoadedConfig, load_config
from host.errors import (
    AgentHostError,
    CannotPlanError,
    ConfigError,
    FunctionNotFoundError,
    PlanError,
    RunWaitingError,
    TeamError,
)
from host.progress import Planned, listener, reported, tell
from host.run_ids import new_run_id
from host.sources import LoadProblem
from host.state import RunResult, RunState, settled

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer, TracerProvider
    from semantic_kernel import Kernel
    from semantic_kernel.connectors.ai.chat_completion_client_base import ChatCompletionClientBase

    from host.agents import Agent, Team
    from host.agents.coordination import TeamRun
    from host.agents.turn import AgentTurns
    from host.config.schema import AgentConfig
    from host.idempotency import IdempotencyStore
    from host.invocation import Invoker
    from host.models.selection import ModelSelector
    from host.models.services import ModelServices
    from host.paused_runs import PausedRuns
    from host.planning import Planner, PlanOutcome
    from host.plans import Plan, Step
    from host.resilience.guard import Guard
    from host.routing import Router
    from host.run_store import RunStore
    from host.runs import Runs
    from host.state import StepRecord
    from host.step_call import StepCall
    from host.steps import StepRunner
    from host.telemetry.genai import SpanStarter, Tracing
    from host.workflows import Workflow

_log = logging.getLogger("agent_host")

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "host.yaml"


def default_config_path() -> Path:
    """``$AGENT_HOST_CONFIG``, else ``./config/host.yaml``, else the shipped default."""
    if named := os.environ.get("AGENT_HOST_CONFIG"):
        return Path(named)
    local = Path("config/host.yaml")
    return local if local.is_file() else DEFAULT_CONFIG


class AgentHost:
    """A Semantic Kernel host: configured models, plugins and prompt functions.

    Use it as ``async with AgentHost("config/host.yaml") as host:``; the config may also be
    a mapping as the YAML file would hold it (its folders relative to the current one), a
    :class:`~host.config.HostConfig` or a loaded config. Loading
    happens on entry; broken plugin or prompt files are skipped and listed in
    :attr:`problems` (or fatal with ``strict=True``). ``models`` replaces named
    models with ready services, e.g. a scripted double in tests. ``tracer_provider``
    receives the host's spans instead of what ``telemetry`` and the ``OTEL_*``
    variables set up (:mod:`host.telemetry`). ``agents`` adds agents defined in Python to
    the config's ``agents:`` (one of the same name is replaced).
    """

    def __init__(
        self,
        config: str | Path | Mapping[str, Any] | HostConfig | LoadedConfig | None = None,
        *,
        plugin_dirs: Sequence[str | Path] = (),
        prompt_dirs: Sequence[str | Path] = (),
        strict: bool = False,
        models: Mapping[str, ChatCompletionClientBase] | None = None,
        clock: Clock | None = None,
        tracer_provider: TracerProvider | None = None,
        agents: Sequence[Agent] = (),
    ) -> None:
        self._config_source = config
        self._tracer_provider = tracer_provider
        self._tracing: Tracing | None = None
        """The host's spans (set on start when tracing is on)."""
        self._plugin_dirs = [Path(d).resolve() for d in plugin_dirs]
        self._prompt_dirs = [Path(d).resolve() for d in prompt_dirs]
        self._strict = strict
        self._model_overrides = dict(models or {})
        self._clock = clock or SystemClock()
        self._invoker: Invoker | None = None
        self._services: ModelServices | None = None
        self._config: HostConfig | None = None
        self.guard: Guard | None = None
        """Breakers, cache and policies shared by every call of this host (set on start)."""
        self._catalogue: dict[str, FunctionInfo] = {}
        self._problems: list[LoadProblem] = []
        self._effects: IdempotencyStore | None = None
        self._unavailable: dict[str, str] = {}
        self._steps: StepRunner | None = None
        """Runs single steps for plans and workflows; built on first use after each start."""
        self._running: Runs | None = None
        """Plans and workflows started, paused and resumed; built on first use after each start."""
        self._paused: PausedRuns | None = None
        """Runs waiting for a person, by run id (in ``runs.database``)."""
        self._run_store: RunStore | None = None
        """Every run's record (in ``runs.database``)."""
        self._planner: Planner | None = None
        """What ``planning.planner`` names; imported on start."""
        self._agent_specs = list(agents)
        self._agents: dict[str, AgentConfig] = {}
        """The config's agents and those given in Python, by name (set on start)."""
        self._agent_turns: AgentTurns | None = None
        """Takes the agents' turns; made (with their prompt functions) on the first team run,
        so that a host that runs no team pays nothing for its agents at start."""

    async def __aenter__(self) -> AgentHost:
        self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def start(self) -> None:
        """Load config, models table, plugins and prompt functions (idempotent)."""
        if self._invoker is not None:
            return
        # Before Semantic Kernel is imported: its settings read ./.env unguarded.
        loaded = _load(self._config_source)
        from host.idempotency import IdempotencyStore
        from host.invocation import Invoker
        from host.kernel import build_kernel
        from host.models.selection import ModelSelector
        from host.models.services import ModelServices
        from host.paused_runs import PausedRuns
        from host.planning import add_planner_function, load_planner
        from host.redaction import config_secrets, register
        from host.resilience.guard import Guard
        from host.resilience.policies import PolicyBook
        from host.run_store import RunStore

        register(config_secrets(loaded))
        self._planner = load_planner(loaded)
        self._services = ModelServices(loaded, self._model_overrides)
        selector = ModelSelector(self._services)
        self._tracing = self._start_tracing(loaded)
        self.guard = Guard(self._clock, PolicyBook(loaded.config), selector, tracing=self._tracing)
        self._config = loaded.config
        self._unavailable = loaded.unavailable_models()
        kernel, report = build_kernel(
            loaded,
            selector,
            self.guard,
            plugin_dirs=self._plugin_dirs,
            prompt_dirs=self._prompt_dirs,
            strict=self._strict,
        )
        for problem in report.problems:
            _log.warning("skipped %s", problem)
        self._problems = list(report.problems)
        self._catalogue = {info.name: info for info in describe_kernel(kernel, report.files)}
        loaded.check_tool_fallbacks(self._catalogue)
        add_planner_function(kernel, list(self._catalogue.values()))
        self._agents = self._with_agents(loaded)
        self._invoker = Invoker(kernel, selector, self._clock)
        self._invoker.tracing = self._tracing
        location = runs_database(loaded)
        self._effects = IdempotencyStore(location)
        self._paused = PausedRuns(location, lease=loaded.config.runs.lease)
        self._run_store = RunStore(location, keep=loaded.config.runs.keep)

    def _with_agents(self, loaded: LoadedConfig) -> dict[str, AgentConfig]:
        """The config's agents (its section and its agent files) with those given in Python
        laid over them; an agent defined twice in config, or one pinned to an unknown
        model, is a :class:`~host.errors.ConfigError`."""
        from host.agents.agent_files import load_agent_files

        config = loaded.config
        files = load_agent_files(loaded.resolve(d) for d in config.agent_directories)
        problems = [
            f"agent {name!r} is defined in the agents: section and in an agent file"
            for name in sorted(files.keys() & config.agents.keys())
        ]
        agents = {**config.agents, **files}
        given = {agent.name: agent.config() for agent in self._agent_specs}
        for name, agent in {**files, **given}.items():
            if agent.model is not None and agent.model not in config.models:
                problems.append(
                    f"agent {name!r}: model {agent.model!r} is not in models "
                    f"(expected one of {sorted(config.models)})"
                )
        if problems:
            raise ConfigError(problems)
        return {**agents, **given}

    def _start_tracing(self, loaded: LoadedConfig) -> Tracing | None:
        """The host's spans: on the tracer provider given, else as ``telemetry`` and the
        ``OTEL_*`` variables say (:func:`host.telemetry.start_tracing`); ``None`` when off."""
        from host import __version__
        from host.telemetry import start_tracing
        from host.telemetry.genai import Tracing, keep_kernel_diagnostics_off
        from host.telemetry.settings import tracing_settings
        from host.telemetry.setup import SCOPE

        models = loaded.config.models
        if self._tracer_provider is not None:
            keep_kernel_diagnostics_off()
            capture = tracing_settings(loaded, os.environ).capture_content
            provider = self._tracer_provider
            tracer = _span_starter(provider, provider.get_tracer(SCOPE, __version__), masks=True)
            return Tracing(tracer, models=models, capture_content=capture)
        telemetry = start_tracing(loaded)
        if not telemetry.recording:
            return None
        keep_kernel_diagnostics_off()
        capture = telemetry.capture_content
        masks = not telemetry.traces_masked
        tracer = _span_starter(telemetry.tracer_provider, telemetry.tracer, masks=masks)
        instruments = telemetry.instruments
        return Tracing(tracer, instruments, models=models, capture_content=capture)

    def _deadline(self, given: float | None) -> float | None:
        """``given``, else the config's ``resilience.deadline``."""
        if given is not None or self._config is None:
            return given
        return self._config.resilience.deadline

    async def close(self) -> None:
        """Close model clients, write the runs not recorded yet, and release the host; it
        may be started again."""
        if self._services is not None:
            await self._services.close()
        if self._effects is not None:
            self._effects.close()
        if self._paused is not None:
            self._paused.close()
        if self._run_store is not None:
            self._run_store.close()
        self._invoker = None
        self._services = None
        self._effects = None
        self._paused = None
        self._run_store = None
        self._steps = None
        self._running = None
        self._agent_turns = None

    @property
    def run_store(self) -> RunStore:
        """Every run of this host and of others sharing ``runs.database``: ``runs()``,
        ``get(run_id)``, ``last()``. A run is written shortly after it ends (``flush()``
        waits for it)."""
        self.start()
        assert self._run_store is not None
        return self._run_store

    @property
    def kernel(self) -> Kernel:
        """The Semantic Kernel kernel: every loaded function, each call through the
        resilience chain and routed to the configured models."""
        self.start()
        assert self._invoker is not None
        return self._invoker.kernel

    @property
    def models(self) -> ModelSelector:
        """The configured models: ``configured(name)`` checks a name, ``services`` serves
        them."""
        self.start()
        assert self._invoker is not None
        return self._invoker.selector

    @property
    def catalogue(self) -> list[FunctionInfo]:
        """Every loaded function, sorted by name."""
        self.start()
        return list(self._catalogue.values())

    @property
    def problems(self) -> list[LoadProblem]:
        """Plugin and prompt sources that were skipped, with the reason."""
        self.start()
        return list(self._problems)

    def function(self, name: str) -> FunctionInfo:
        """The loaded function ``plugin.function`` (``plugin-function`` is accepted too)."""
        self.start()
        info = self._catalogue.get(name.replace("-", ".", 1) if "." not in name else name)
        if info is None:
            raise FunctionNotFoundError(name, list(self._catalogue))
        return info

    async def invoke(
        self,
        function: str,
        arguments: Mapping[str, Any] | None = None,
        /,
        *,
        model: str | None = None,
        deadline: float | None = None,
        **kwargs: Any,
    ) -> StepRecord:
        """Run one function through the kernel and return its :class:`StepRecord`.

        Arguments come from ``arguments`` and keyword arguments; they are checked
        against the function's parameters first. ``model`` names the configured
        model a prompt function uses instead of its default (an unknown name raises
        :class:`~host.errors.ConfigError` naming the configured ones); ``deadline`` bounds
        the whole call in seconds (default: ``resilience.deadline``). Raises an
        :class:`~host.errors.AgentHostError` subclass when the call fails, with
        the failed step's record as ``error.step``.
        """
        info = self.function(function)
        assert self._invoker is not None
        return await self._invoker.invoke(
            info,
            {**(arguments or {}), **kwargs},
            step_id="s1",
            model=model,
            deadline=self._deadline(deadline),
        )

    def execute(
        self,
        plan: Plan | Mapping[str, Any],
        request: str = "",
        *,
        values: Mapping[str, Any] | None = None,
        deadline: float | None = None,
        run_id: str | None = None,
    ) -> Coroutine[Any, Any, RunResult]:
        """Run a plan (a :class:`~host.plans.Plan` or its JSON form) over one run state.

        Independent steps run concurrently; prompt steps are routed by the
        capability they need; ``values`` are what ``state.<key>`` references
        read. A bad plan or a failed step gives a ``failed`` result naming why;
        a hand-off gives ``needs_human`` (continue it with :meth:`resume`).
        Side-effecting steps are keyed ``<run_id>/<step id>``: executing the
        same ``run_id`` again replays their recorded output instead of acting twice. A
        ``run_id`` that is waiting for a person raises :class:`~host.errors.RunWaitingError`
        (resume it instead).

        Await it, or make it a task, as an ``async def``'s call: it returns the run's
        coroutine rather than awaiting it in a frame of its own, which every run in
        flight would hold.
        """
        self.start()
        if run_id is None:
            run_id = new_run_id()
        elif self._paused is not None and self._paused.is_waiting(run_id):
            raise RunWaitingError(run_id)
        return self._execute(plan, request, values, deadline, run_id)

    def _execute(
        self,
        plan: Plan | Mapping[str, Any],
        request: str,
        values: Mapping[str, Any] | None,
        deadline: float | None,
        run_id: str,
    ) -> Coroutine[Any, Any, RunResult]:
        """:meth:`execute` under ``run_id``, which no run waiting for a person has (a new id,
        or one checked)."""
        runs = self._runs()
        try:
            parsed = runs.parse(plan)
        except PlanError as error:  # nested deeper than any plan: not read further
            return self._unread(runs, RunResult(run_id, request, "failed", None, error=str(error)))
        except ValueError as error:  # pydantic's ValidationError is one
            from pydantic import ValidationError

            from host.plans import PlanProblem, schema_problems

            lines = schema_problems(error) if isinstance(error, ValidationError) else [str(error)]
            problems = [PlanProblem(None, line) for line in lines]
            failed = RunResult(run_id, request, "failed", None, error=str(PlanError(problems)))
            return self._unread(runs, failed)
        state = RunState(values, run_id=run_id)
        return runs.plan(parsed, request, state, self._deadline(deadline))

    async def _unread(self, runs: Runs, failed: RunResult) -> RunResult:
        """The recorded (and traced) run of a plan that could not be read: too deep, or
        not of the Plan schema."""
        if self._tracing is not None:
            failed = await self._tracing.traced_run("plan", failed.request, settled(failed))
        return runs.record(failed)

    async def resume(self, run_id: str, answer: Any) -> RunResult:
        """Continue a ``needs_human`` run; ``answer`` becomes the waiting step's output.

        The run may have paused in another process sharing ``runs.database``. Raises
        :class:`~host.errors.UnknownRunError` when no run of that id is waiting.
        """
        return await self._runs().resume(run_id, answer)

    async def run_workflow(
        self,
        workflow: Workflow | str | Path,
        inputs: Mapping[str, Any] | None = None,
        *,
        deadline: float | None = None,
    ) -> RunResult:
        """Run a workflow: a :class:`~host.workflows.Workflow` or the path of its YAML file.

        It is checked against the loaded functions first: a bad one raises
        :class:`~host.errors.WorkflowError` listing every problem (at ``file:line``
        for a file). ``inputs`` gives exactly its declared inputs. A failed node or
        a rejected transition gives ``failed``, the cap on rounds ``round_limit``,
        a hand-off ``needs_human`` (continue it with :meth:`resume`).
        """
        from host.errors import InvalidArgumentsError
        from host.workflows import check_workflow, load_workflow

        self.start()
        if isinstance(workflow, str | Path):
            checked = load_workflow(workflow, self._catalogue)
        else:
            checked = check_workflow(workflow, self._catalogue)
        values = dict(inputs or {})
        declared = ", ".join(checked.inputs) or "none"
        problems = [f"missing input {name!r}" for name in checked.inputs if name not in values]
        problems += [
            f"unknown input {name!r} (inputs: {declared})"
            for name in values
            if name not in checked.inputs
        ]
        if problems:
            raise InvalidArgumentsError(f"workflow {checked.name}", problems)
        state = RunState(values, run_id=new_run_id())
        return await self._runs().workflow(checked, state, self._deadline(deadline))

    async def run_team(
        self, team: Team | str | Path, task: str, *, deadline: float | None = None
    ) -> RunResult:
        """Run a team of agents on ``task``: a :class:`~host.agents.Team` or the path of its
        YAML file.

        It is checked against the agents first: a bad one raises
        :class:`~host.errors.TeamError` listing every problem (at ``file:line`` for a
        file). Each agent turn is a step: routed, through the resilience chain, in
        the result's ``steps``. Replies given at once are settled by a ``resolve``
        (a vote, a judge, a coordinator, or a person; the reason in the result's
        ``plan``). The run ends ``ok`` (done, or a sequential team's last turn),
        ``round_limit``, ``budget_exceeded``, ``stalled``, or ``failed`` (a failed turn,
        or ``deadline`` seconds passed; default ``resilience.deadline``), or waits
        ``needs_human`` for a person's pick (:meth:`resume` continues it, here or in
        another process); it is recorded in the run store as kind ``team``.
        """
        from host.agents import load_team

        self.start()
        if isinstance(team, str | Path):
            team = load_team(team, self._agents, self._catalogue)
        if not task.strip():
            raise TeamError([f"team {team.name!r}: the task is empty: give the team its work"])
        run = self._team_run(team, task, new_run_id())
        return await self._runs().team(run, self._deadline(deadline))

    def _team_run(self, team: Team, task: str, run_id: str) -> TeamRun:
        """A run of ``team`` on ``task`` by this host's agents, once ``team`` is checked
        against them (:class:`~host.errors.TeamError`)."""
        from host.agents import check_team
        from host.agents.coordination import TeamRun
        from host.agents.turn import AgentTurns, add_turn_functions

        self.start()
        assert self._invoker is not None
        checked = check_team(team, self._agents, self._catalogue)
        if self._agent_turns is None:
            add_turn_functions(self._invoker.kernel, self._agents)
            self._agent_turns = AgentTurns(
                self._invoker, self._step_runner(), self._router(), self._agents
            )
        return TeamRun(checked, task, self._agent_turns, run_id=run_id)

    def _step_runner(self) -> StepRunner:
        """This host's step runner: its invoker, router, validations and idempotency store."""
        from host.steps import StepRunner

        self.start()
        assert self._invoker is not None and self._config is not None
        if self._steps is None:
            self._steps = StepRunner(
                self._invoker,
                self._catalogue,
                self._router(),
                validations=self._config.validation,
                effects=self._effects,
            )
        return self._steps

    def _runs(self) -> Runs:
        """This host's runs of plans and workflows, over its step runner and paused runs."""
        if self._running is None:
            from host.runs import Runs

            steps = self._step_runner()
            assert self._paused is not None
            assert self._config is not None
            recorded = self._run_store if self._config.runs.record else None
            self._running = Runs(steps, self._paused, recorded, teams=self._team_run)
        return self._running

    def resolve(self, step: Step, state: RunState) -> StepCall:
        """``step`` made concrete from ``state``: arguments, route, idempotency key.

        Pure: the state is only read. The :class:`~host.step_call.StepCall` is
        plain data; :meth:`call` runs it here or in another process.
        """
        self.function(step.function)  # an unknown one is FunctionNotFoundError
        return self._step_runner().resolve(step, state)

    async def call(self, call: StepCall) -> StepRecord:
        """Run a resolved step call (see :meth:`resolve`) and return its record.

        It needs no run state, so a worker process with the same config can run a
        call another process resolved (``StepCall.from_json``).
        """
        self.function(call.function)
        return await self._step_runner().call(call)

    def _router(self) -> Router:
        """Routes over the model table, skipping models without their key and open breakers."""
        from host.routing import Router

        assert self.guard is not None and self._config is not None
        return Router(self._config.models, self.guard.breakers, unavailable=self._unavailable)

    def plan(self, request: str) -> Plan:
        """The plan for ``request`` from the deterministic clause planner (no model needed).

        Raises :class:`~host.errors.CannotPlanError` naming what is missing.
        """
        from host.planning import clause_plan

        return clause_plan(request, self.catalogue)

    async def plan_for(self, request: str, *, deadline: float | None = None) -> PlanOutcome:
        """The plan for ``request`` by the configured planner (``planning.planner``).

        With ``model``, the model routed for capability ``plan`` writes it and
        repairs it when invalid, and the clause planner is the fallback; the
        outcome says which planner's plan it is and records each model call.
        Raises :class:`~host.errors.CannotPlanError` naming what is missing.
        """
        from host.planning import plan_request

        self.start()
        assert self._invoker is not None and self._config is not None and self._planner is not None
        return await plan_request(
            self._planner,
            self._invoker,
            self._router(),
            request,
            self.catalogue,
            repairs=self._config.planning.repairs,
            deadline=self._deadline(deadline),
            name=self._config.planning.planner,
        )

    async def run(
        self,
        request: str,
        *,
        deadline: float | None = None,
        model: str | None = None,
        history: Sequence[RunResult] = (),
    ) -> RunResult:
        """Answer ``request`` and return the output with every step's record.

        :meth:`plan_for` turns the request into a plan that :meth:`execute`
        runs. A request it cannot plan falls back to the single best-matching
        function given the request as its text input (``planners.keyword``).
        ``deadline`` bounds planning and execution together. A failing step (or
        planner) gives a ``failed`` result naming the error, not a raise.

        ``model`` pins every prompt step, and a model planner, to that configured
        model (an unknown name raises :class:`~host.errors.ConfigError`). ``history``
        is the conversation's earlier results, newest last: a follow-up such as "now
        the same for Beijing" is planned as the last request with its subject replaced
        (:mod:`planners.follow_up`). Cancelled, the run is recorded ``cancelled`` with
        the steps done by then, and the cancellation goes on.
        """
        from host.routing import pinned
        from host.runs import recorded_after
        from planners.follow_up import follow_up

        started = time.time()
        self.start()
        if model is not None:
            self.models.configured(model)
        planned_as = follow_up(request, history)
        answering = self._answer(request, deadline, model, planned_as)
        if self._tracing is not None:  # one trace: planning and the steps under one run span
            answering = self._tracing.traced_run("plan", request, answering)
        with pinned(model), recorded_after():
            result = await answering
        return self._runs().record(result, started=started)

    async def _answer(
        self, request: str, deadline: float | None, model: str | None, planned_as: str | None
    ) -> RunResult:
        """:meth:`run` of ``request`` (planned as ``planned_as``, a follow-up's whole
        request, if given), not recorded yet."""
        from host.planning import keyword_choice

        self.start()
        assert self._invoker is not None
        run_id = new_run_id()
        asked = planned_as or request
        with self._invoker.deadline_scope(self._deadline(deadline)):  # planning counts too
            try:
                try:
                    outcome = await self.plan_for(asked, deadline=deadline)
                except CannotPlanError:
                    outcome = None
                except AgentHostError as error:
                    return RunResult(run_id, request, "failed", None, error=str(error))
                if outcome is None:
                    try:
                        choice = keyword_choice(asked, self.catalogue)
                        pin = model if self.function(choice.function).kind == "prompt" else None
                        calling = self.invoke(
                            choice.function, choice.arguments, deadline=deadline, model=pin
                        )
                        record = await reported(calling)
                    except AgentHostError as error:
                        steps = (error.step,) if error.step is not None else ()
                        return RunResult(run_id, request, "failed", None, steps, error=str(error))
            except asyncio.CancelledError:
                cancelled = RunResult(run_id, request, "cancelled", None, error="cancelled")
                self._runs().record(cancelled)
                raise
            if outcome is None:
                output, reason = record.output, choice.reason
                return RunResult(run_id, request, "ok", output, (record,), plan=reason)
            watcher = listener()
            if watcher is not None:
                tell(watcher, Planned(outcome.plan, outcome.source))
            result = await self._execute(outcome.plan, request, None, deadline, run_id)
        source = outcome.source if planned_as is None else f"{outcome.source} as {planned_as!r}"
        planned = f"planned by {source}; {result.plan}"
        return dataclasses.replace(result, plan=planned, planning=outcome.records)


def _span_starter(provider: TracerProvider, tracer: Tracer, *, masks: bool) -> SpanStarter:
    """What starts the host's spans: a :class:`~host.telemetry.span_recorder.SpanRecorder`
    for an SDK provider (a fraction of the SDK tracer's cost; ``masks`` secrets in the
    spans it ends), else ``tracer``."""
    from host import __version__
    from host.telemetry.setup import SCOPE
    from host.telemetry.span_recorder import recorder_for

    return recorder_for(provider, SCOPE, __version__, masks=masks) or tracer


def runs_database(loaded: LoadedConfig) -> str | Path:
    """Where ``runs.database`` is: the file, relative to the config's folder, or ``:memory:``."""
    database = loaded.config.runs.database
    return database if database == ":memory:" else loaded.resolve(database)


def _load(
    source: str | Path | Mapping[str, Any] | HostConfig | LoadedConfig | None,
) -> LoadedConfig:
    if isinstance(source, LoadedConfig):
        return source
    if isinstance(source, HostConfig):
        return LoadedConfig(source, None, os.environ)
    if isinstance(source, Mapping):  # checked as a file's mapping is, named "config"
        from host.config.loader import parse_config

        return LoadedConfig(
            parse_config(dict(source), os.environ, source="config"), None, os.environ
        )
    return load_config(source if source is not None else default_config_path())
