"""agent-host: a Semantic Kernel plugin-based agent host.

The public surface::

    from host import AgentHost, RunResult, StepRecord, Plan, Step, load_config, AgentHostError

with the planner seam (``PlanOutcome``, ``PlanningContext``) and the errors the
API raises (:mod:`host.errors`). Everything else may change. Names are
imported on first use, so ``import host`` stays fast and does not import
Semantic Kernel.

Where things live, along a request's path (``planners/`` depends on ``host``,
never the reverse)::

    api, cli                   the façades: AgentHost, the agent-host command
    planning                   the planner seam: planning.planner by name, the planning model
    plans                      the plan language: Plan, Step, Ref, validate_plan
    runs                       plans, workflows and teams started, paused and resumed
    executor, steps            run a plan; one step: resolve, call, validate, record
    step_call, invocation      a resolved call; one kernel call recorded as a StepRecord
    state, paused_runs         RunState, StepRecord, CallEvent, RunResult; paused-run store
    run_store, run_view        every run recorded; how agent-host runs and trace show them
    telemetry/                 tracing set-up and exporters; the GenAI spans (genai)
    workflows/, validation/    graphs of steps; checks on a step's output and on_fail paths
    agents/                    agents and teams: each agent turn a step
    routing, models/           which model serves a call; the providers
    resilience/                the filter chain (order in chain, per-call context in context):
                                 deadline, cache, fallback, breaker, retry, span, attempt
    arguments, effects         argument typing; side-effecting functions
    idempotency, sqlite_store  effect keys and the SQLite file behind the run stores
    kernel, plugins,           building the kernel: native plugins, prompt files,
      prompt_files, sources,     what was loaded and skipped, the catalogue of functions
      catalogue
    config/, errors, clock     the ground floor: host.yaml, the exception tree, time
    memo, testing/             identity memoisation; test doubles for plugin authors
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from host.api import AgentHost
    from host.catalogue import FunctionInfo, ParameterInfo
    from host.config import HostConfig, load_config
    from host.effects import side_effects
    from host.errors import (
        AgentHostError,
        AttemptTimeoutError,
        CannotPlanError,
        CircuitOpenError,
        ConfigError,
        DeadlineExceededError,
        FunctionFailedError,
        FunctionNotFoundError,
        InvalidArgumentsError,
        LoadError,
        MissingSecretError,
        PlanError,
        ProviderError,
        RetriesExhaustedError,
        TeamError,
        UnknownRunError,
        ValidationFailedError,
        WorkflowError,
    )
    from host.planning import PlanningContext, PlanOutcome
    from host.plans import Plan, Step
    from host.state import RunResult, StepRecord

_EXPORTS = {
    "AgentHost": "host.api",
    "AgentHostError": "host.errors",
    "AttemptTimeoutError": "host.errors",
    "CannotPlanError": "host.errors",
    "CircuitOpenError": "host.errors",
    "ConfigError": "host.errors",
    "DeadlineExceededError": "host.errors",
    "FunctionFailedError": "host.errors",
    "FunctionInfo": "host.catalogue",
    "FunctionNotFoundError": "host.errors",
    "HostConfig": "host.config",
    "InvalidArgumentsError": "host.errors",
    "LoadError": "host.errors",
    "MissingSecretError": "host.errors",
    "ParameterInfo": "host.catalogue",
    "Plan": "host.plans",
    "PlanError": "host.errors",
    "PlanOutcome": "host.planning",
    "PlanningContext": "host.planning",
    "ProviderError": "host.errors",
    "RetriesExhaustedError": "host.errors",
    "RunResult": "host.state",
    "Step": "host.plans",
    "StepRecord": "host.state",
    "TeamError": "host.errors",
    "UnknownRunError": "host.errors",
    "ValidationFailedError": "host.errors",
    "WorkflowError": "host.errors",
    "load_config": "host.config",
    "side_effects": "host.effects",
}

__all__ = [
    "AgentHost",
    "AgentHostError",
    "AttemptTimeoutError",
    "CannotPlanError",
    "CircuitOpenError",
    "ConfigError",
    "DeadlineExceededError",
    "FunctionFailedError",
    "FunctionInfo",
    "FunctionNotFoundError",
    "HostConfig",
    "InvalidArgumentsError",
    "LoadError",
    "MissingSecretError",
    "ParameterInfo",
    "Plan",
    "PlanError",
    "PlanOutcome",
    "PlanningContext",
    "ProviderError",
    "RetriesExhaustedError",
    "RunResult",
    "Step",
    "StepRecord",
    "TeamError",
    "UnknownRunError",
    "ValidationFailedError",
    "WorkflowError",
    "__version__",
    "load_config",
    "side_effects",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'host' has no attribute {name!r}")
