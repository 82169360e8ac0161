"""An agent's turn: one call of its internal prompt function, through the host's invoker.

Each configured agent gets the prompt function ``agent_host.agent_<name>`` (its
``max_tokens`` and ``output_schema`` in its execution settings), added to the
kernel after the catalogue is taken, as the planning function is: plans cannot
call it. A turn is routed by the agent's capability (or pinned model), goes
through the resilience chain, and leaves a :class:`~host.state.StepRecord`, an
``invoke_agent {name}`` span and a :class:`~host.progress.StepFinished` event.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from host.catalogue import INTERNAL_PLUGIN, FunctionInfo, ParameterInfo
from host.errors import AgentHostError, ConfigError, ValidationFailedError
from host.progress import reported
from host.routing import Route
from host.validation.checks import schema_problems

if TYPE_CHECKING:
    from semantic_kernel import Kernel

    from host.config.schema import AgentConfig
    from host.invocation import Invoker
    from host.routing import Router
    from host.state import StepRecord

TURN_PROMPT = """{{$instructions}}

Task: {{$task}}

Conversation so far:
{{$transcript}}

You are {{$speaker}}. Write your reply."""
"""What an agent is asked on its turn: its instructions, the task, the shared transcript."""

_PARAMETERS = (
    ParameterInfo("instructions", "str", True, None, "the agent's instructions"),
    ParameterInfo("task", "str", True, None, "the team's task"),
    ParameterInfo("transcript", "str", True, None, "the conversation so far"),
    ParameterInfo("speaker", "str", True, None, "the agent's name"),
)


@dataclasses.dataclass(frozen=True)
class Message:
    """One reply in a team's transcript."""

    speaker: str
    text: str


def turn_function(agent: str) -> FunctionInfo:
    """The internal prompt function of ``agent``'s turns (never in ``host.catalogue``)."""
    return FunctionInfo(
        name=f"{INTERNAL_PLUGIN}.agent_{agent}",
        plugin=INTERNAL_PLUGIN,
        function=f"agent_{agent}",
        kind="prompt",
        description=f"Take agent {agent}'s turn in a team (internal to the host).",
        parameters=_PARAMETERS,
        source=None,
    )


def add_turn_functions(kernel: Kernel, agents: Mapping[str, AgentConfig]) -> None:
    """Add each agent's :func:`turn_function` to ``kernel``, with its reply's settings and
    its tools (:mod:`host.agents.tools`).

    Raises :class:`~host.errors.ConfigError` (adding nothing) when an agent's
    ``functions`` entry names no loaded function.
    """
    from semantic_kernel.connectors.ai.prompt_execution_settings import PromptExecutionSettings
    from semantic_kernel.functions import KernelFunctionFromPrompt

    from host.agents.tools import AgentToolGate, agent_tools, resolve_functions

    tools = resolve_functions(kernel, agents)
    gate = AgentToolGate()
    # Appended, the gate runs outermost (SK nests the last of its list outside the rest):
    # a refused call is refused before its arguments are checked.
    kernel.auto_function_invocation_filters.append((id(gate), gate))
    for name, agent in agents.items():
        info = turn_function(name)
        extension: dict[str, Any] = {}
        if agent.max_tokens is not None:
            extension["max_tokens"] = agent.max_tokens
        if agent.output_schema is not None:
            extension["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": name, "schema": agent.output_schema},
            }
        function = KernelFunctionFromPrompt(
            function_name=info.function,
            plugin_name=info.plugin,
            description=info.description,
            prompt=TURN_PROMPT,
            prompt_execution_settings=PromptExecutionSettings(
                extension_data=extension,
                function_choice_behavior=agent_tools(agent, tools[name]) if tools[name] else None,
            ),
        )
        kernel.add_function(info.plugin, function)


def transcript(messages: Sequence[Message]) -> str:
    """The shared transcript as the prompt shows it: ``speaker: text`` blocks, oldest first."""
    if not messages:
        return "(nothing yet)"
    return "\n\n".join(f"{m.speaker}: {m.text}" for m in messages)


class AgentTurns:
    """Takes agents' turns through ``invoker``, each routed by ``router``."""

    def __init__(self, invoker: Invoker, router: Router, agents: Mapping[str, AgentConfig]) -> None:
        self._invoker = invoker
        self._router = router
        self._agents = agents

    def route(self, name: str) -> Route:
        """The model of ``name``'s next turn: its pinned model, else its capability's route.

        Raises :class:`~host.errors.ConfigError` when no model is capable, or when the
        agent has ``functions`` and the model cannot call tools (the embedded model).
        """
        agent = self._agents[name]
        if agent.model is not None:
            route = Route(agent.model, (), f"agent {name} → pinned: {agent.model}")
        else:
            route = self._router.choose(agent.capability)
        services = self._invoker.selector.services
        if agent.functions and not services.get(route.model).SUPPORTS_FUNCTION_CALLING:
            raise ConfigError(
                [f"agent {name!r} has functions, but its model {route.model!r} cannot call tools"]
            )
        return route

    async def take(
        self, name: str, task: str, messages: Sequence[Message], *, step_id: str
    ) -> StepRecord:
        """``name``'s reply to ``task`` after ``messages``, as its step's record.

        A failed call, or a reply that does not fit the agent's ``output_schema``
        (:class:`~host.errors.ValidationFailedError`), raises its
        :class:`~host.errors.AgentHostError` with the failed record as ``error.step``.
        """
        tracing = self._invoker.tracing
        if tracing is None:
            record = await reported(self._checked(name, task, messages, step_id))
        else:
            capability = self._agents[name].capability if self._agents[name].model is None else None
            info = turn_function(name)
            with tracing.step(step_id, info.name, capability, agent=name) as span:
                try:
                    record = await reported(self._checked(name, task, messages, step_id))
                except AgentHostError as error:
                    tracing.ended_step(span, error.step, error)
                    raise
                tracing.ended_step(span, record, None)
        return record

    async def _checked(
        self, name: str, task: str, messages: Sequence[Message], step_id: str
    ) -> StepRecord:
        """The turn's call, its record carrying the route's reason, its reply checked
        against the agent's ``output_schema``."""
        agent = self._agents[name]
        route = self.route(name)
        arguments = {
            "instructions": agent.instructions,
            "task": task,
            "transcript": transcript(messages),
            "speaker": name,
        }
        try:
            record = await self._invoker.invoke(
                turn_function(name),
                arguments,
                step_id=step_id,
                model=route.model,
                fallbacks=route.fallbacks,
                route_reason=route.reason,
            )
        except AgentHostError as error:
            if error.step is not None:
                error.step = dataclasses.replace(error.step, route_reason=route.reason)
            raise
        if agent.output_schema is None:
            return record
        problems = schema_problems(agent.output_schema, record.output)
        if not problems:
            return record
        failed = ValidationFailedError(step_id, problems)
        failed.step = dataclasses.replace(
            record, status="failed", error=str(failed), error_type=type(failed).__name__
        )
        raise failed
