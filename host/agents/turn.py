"""An agent's turn: one call of its internal prompt function, through the host's invoker.

Each configured agent gets the prompt function ``agent_host.agent_<name>`` (its
``max_tokens`` and ``output_schema`` in its execution settings), added to the
kernel after the catalogue is taken, as the planning function is: plans cannot
call it. A turn is routed by the agent's capability (or pinned model), goes
through the resilience chain, and leaves a :class:`~host.state.StepRecord`, an
``invoke_agent {name}`` span and a :class:`~host.progress.StepFinished` event.
An agent that ``runs`` a function takes its turn as a step of it, through the host's
step runner: routed, validated as the config says, its record and span the same.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Mapping, Sequence
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
    from host.steps import StepRunner

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
    its tools (:mod:`host.agents.tools`), and one hand-off tool per agent.

    Raises :class:`~host.errors.ConfigError` (adding nothing) when an agent's
    ``functions`` entry, or the function it ``runs``, names no loaded function.
    """
    from host.agents.tools import AgentToolGate, resolve_functions, transfer_functions

    tools = resolve_functions(kernel, agents)
    missing = [
        f"agents.{name}.runs: {agent.runs!r} is not a loaded function"
        for name, agent in agents.items()
        if agent.runs is not None and not _loaded(kernel, agent.runs)
    ]
    if missing:
        raise ConfigError(missing)
    gate = AgentToolGate()
    # Appended, the gate runs outermost (SK nests the last of its list outside the rest):
    # a refused call is refused before its arguments are checked.
    kernel.auto_function_invocation_filters.append((id(gate), gate))
    kernel.add_functions(INTERNAL_PLUGIN, transfer_functions(agents))
    for name, agent in agents.items():
        if agent.runs is None:
            add_turn_function(kernel, name, agent, tools[name])


def add_turn_function(kernel: Kernel, name: str, agent: AgentConfig, tools: list[str]) -> None:
    """Add ``agent``'s :func:`turn_function` to ``kernel``, offering it ``tools``."""
    from semantic_kernel.connectors.ai.prompt_execution_settings import PromptExecutionSettings
    from semantic_kernel.functions import KernelFunctionFromPrompt

    from host.agents.tools import agent_tools

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
            function_choice_behavior=agent_tools(agent, tools) if tools else None,
        ),
    )
    kernel.add_function(info.plugin, function)


def _loaded(kernel: Kernel, name: str) -> bool:
    plugin, function = name.split(".", 1)
    return plugin in kernel.plugins and function in kernel.plugins[plugin].functions


def transcript(messages: Sequence[Message]) -> str:
    """The shared transcript as the prompt shows it: ``speaker: text`` blocks, oldest first."""
    if not messages:
        return "(nothing yet)"
    return "\n\n".join(f"{m.speaker}: {m.text}" for m in messages)


class AgentTurns:
    """Takes agents' turns through ``invoker``, each routed by ``router``; an agent that runs
    a function takes its turn through ``steps``."""

    def __init__(
        self, invoker: Invoker, steps: StepRunner, router: Router, agents: Mapping[str, AgentConfig]
    ) -> None:
        self._invoker = invoker
        self._steps = steps
        self._router = router
        self._agents = dict(agents)
        self._catalogue = steps.catalogue

    def ensure(self, name: str, agent: AgentConfig) -> None:
        """Make ``agent`` (one the host keeps for itself, such as a coordinator, or a judge
        that runs a function the team's check found loaded) take turns as ``name``, unless
        it does already."""
        if name in self._agents:
            return
        if agent.runs is None:
            add_turn_function(self._invoker.kernel, name, agent, [])
        self._agents[name] = agent

    def _offer_transfers(self, name: str) -> None:
        """Give ``name``'s turns the function choice that offers a hand-off team's transfers
        (an agent with no tools of its own has none until its first such turn)."""
        from semantic_kernel.functions import KernelFunctionFromPrompt

        from host.agents.tools import agent_tools

        info = turn_function(name)
        function = self._invoker.kernel.get_function(info.plugin, info.function)
        assert isinstance(function, KernelFunctionFromPrompt)
        for settings in function.prompt_execution_settings.values():
            if settings.function_choice_behavior is None:
                settings.function_choice_behavior = agent_tools(self._agents[name], [])

    def route(self, name: str, *, transfers: bool = False) -> Route:
        """The model of ``name``'s next turn: its pinned model, else its capability's route.

        Raises :class:`~host.errors.ConfigError` when no model is capable, or when the
        agent has ``functions`` (or ``transfers`` to offer) and the model cannot call
        tools (the embedded model).
        """
        agent = self._agents[name]
        if agent.model is not None:
            route = Route(agent.model, (), f"agent {name} → pinned: {agent.model}")
        else:
            route = self._router.choose(agent.capability)
        services = self._invoker.selector.services
        if (agent.functions or transfers) and not services.get(
            route.model
        ).SUPPORTS_FUNCTION_CALLING:
            needs = "functions" if agent.functions else "hand-off tools (a handoff team)"
            raise ConfigError(
                [f"agent {name!r} has {needs}, but its model {route.model!r} cannot call tools"]
            )
        return route

    async def take(
        self, name: str, task: str, messages: Sequence[Message], *, step_id: str, run_id: str
    ) -> StepRecord:
        """``name``'s reply to ``task`` after ``messages``, as its step's record in the team's
        run ``run_id``.

        A failed call, or a reply that does not fit the agent's ``output_schema``
        (:class:`~host.errors.ValidationFailedError`), raises its
        :class:`~host.errors.AgentHostError` with the failed record as ``error.step``.
        """
        agent = self._agents[name]
        if agent.runs is not None:  # a step: its own span, its final record told
            return await self._ran(name, agent, agent.runs, task, messages, step_id, run_id)
        turn = reported(self._checked(name, task, messages, step_id))
        tracing = self._invoker.tracing
        if tracing is None:
            return await turn
        capability = agent.capability if agent.model is None else None
        with tracing.step(step_id, turn_function(name).name, capability, agent=name) as span:
            try:
                record = await turn
            except AgentHostError as error:
                tracing.ended_step(span, error.step, error)
                raise
            tracing.ended_step(span, record, None)
        return record

    def _ran(
        self,
        name: str,
        agent: AgentConfig,
        function: str,
        task: str,
        messages: Sequence[Message],
        step_id: str,
        run_id: str,
    ) -> Awaitable[StepRecord]:
        """The turn of agent ``name`` that runs ``function``: a step of it, run by the host's
        step runner (routed, validated as configured, its side effects keyed to the run,
        its span ``invoke_agent {name}``)."""
        from host.plans import Step
        from host.state import RunState

        given = _function_arguments(self._catalogue[function], agent, task, messages)
        # Constructed, not validated: a reply's ``{"$ref": ...}`` is data, not a reference.
        step = Step.model_construct(
            id=step_id, function=function, arguments=given, capability=agent.capability
        )
        return self._steps.run(step, RunState({}, run_id=run_id), agent=name)

    async def _checked(
        self, name: str, task: str, messages: Sequence[Message], step_id: str
    ) -> StepRecord:
        """The turn's call, its record carrying the route's reason, its reply checked
        against the agent's ``output_schema``."""
        agent = self._agents[name]
        from host.agents.tools import handoff

        turn = handoff.get()
        transfers = turn is not None and bool(turn.offered)
        route = self.route(name, transfers=transfers)
        if transfers:
            self._offer_transfers(name)
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
        if turn is not None and turn.usage is not None and record.tokens_in is None:
            record = self._spent_on_transfer(record, turn.usage)
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

    def _spent_on_transfer(self, record: StepRecord, usage: tuple[int, int]) -> StepRecord:
        """``record`` of a turn a transfer ended, with the tokens and cost of the request that
        made the transfer (so that a handoff team's budgets count it)."""
        cost = None
        if record.model is not None:
            cost = self._invoker.selector.services.config(record.model).cost.of(*usage)
        return dataclasses.replace(record, tokens_in=usage[0], tokens_out=usage[1], cost=cost)


def _function_arguments(
    info: FunctionInfo, agent: AgentConfig, task: str, messages: Sequence[Message]
) -> dict[str, Any]:
    """What a function an agent ``runs`` is given: its ``arguments`` templates filled in
    (one using ``{message}`` left out before anyone has spoken), ``task``, the last reply
    as ``message``, the whole transcript as ``transcript``, and each other parameter from
    the latest JSON reply that has a field of its name."""
    replies = [json_object(m.text) for m in reversed(messages)]
    last = messages[-1].text if messages else ""
    given: dict[str, Any] = {}
    for parameter in info.parameters:
        name = parameter.name
        template = agent.arguments.get(name)
        if template is not None:
            if messages or "{message}" not in template:
                given[name] = template.replace("{task}", task).replace("{message}", last)
        elif name == "task":
            given[name] = task
        elif name == "message" and messages:
            given[name] = last
        elif name == "transcript":
            given[name] = transcript(messages)
        else:
            found = next((reply[name] for reply in replies if name in reply), None)
            if found is not None:
                given[name] = found
    return given


def json_object(reply: Any) -> dict[str, Any]:
    """A reply as a JSON object (parsed from its text, or already one); empty when it is
    not one."""
    if isinstance(reply, dict):
        return reply
    try:
        value = json.loads(reply) if isinstance(reply, str) else None
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
