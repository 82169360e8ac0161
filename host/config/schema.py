"""The shape of ``host.yaml``: frozen pydantic models, unknown keys rejected.

Policies (timeouts, retries, fallback, cache) are plain data here; the filters
that apply them read these objects and never parse YAML themselves.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from host import errors
from host.config.durations import Duration, Limit
from host.validation.spec import Validation, check_schema

Provider = Literal["openai", "azure_openai", "anthropic", "local", "scripted"]

DEFAULT_API_KEY_ENV: dict[str, str] = {
    "openai": "OPENAI_API_KEY",
    "azure_openai": "AZURE_OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
}
"""The variable holding each hosted provider's key when ``api_key_env`` is not given."""

DEFAULT_CACHE_MAX_ENTRIES = 1024
"""How many results the response cache holds unless ``resilience.cache_max_entries`` says."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _as_chain(value: object) -> object:
    return [value] if isinstance(value, str) else value


class StaticValue(_Strict):
    """A fallback that is a fixed answer rather than another model or function."""

    value: Any


FallbackTarget = str | StaticValue
"""A model name, ``provider/model``, ``plugin.function``, or ``{value: ...}``."""

ERROR_CLASSES = frozenset(
    name
    for name, value in vars(errors).items()
    if isinstance(value, type) and issubclass(value, errors.AgentHostError)
)
"""The names ``retry_on`` may list: the classes of the host's exception tree."""


class CallPolicy(_Strict):
    """How calls to one model or tool are guarded; unset fields take ``resilience`` defaults."""

    timeout: Limit | None = None
    retries: int | None = Field(default=None, ge=0)
    retry_on: list[str] | None = None
    fallback: list[FallbackTarget] = Field(default_factory=list)

    _chain = field_validator("fallback", mode="before")(_as_chain)

    @field_validator("retry_on")
    @classmethod
    def _known_errors(cls, value: list[str] | None) -> list[str] | None:
        unknown = [name for name in value or () if name not in ERROR_CLASSES]
        if unknown:
            raise ValueError(
                f"unknown error class {', '.join(map(repr, unknown))} "
                f"(expected some of {sorted(ERROR_CLASSES)})"
            )
        return value


class ModelCost(_Strict):
    """Price in currency units per 1,000 tokens."""

    input: float = Field(default=0.0, ge=0)
    output: float = Field(default=0.0, ge=0)

    def of(self, tokens_in: int, tokens_out: int) -> float:
        """What a call of ``tokens_in`` prompt and ``tokens_out`` completion tokens costs."""
        return (tokens_in * self.input + tokens_out * self.output) / 1000


class LocalOptions(_Strict):
    """``options`` of a ``local`` model: how :class:`~host.models.local.LocalChatCompletion`
    runs its GGUF file (the fields of :class:`~host.models.llama_models.LlamaSettings`)."""

    model_path: str | None = None
    n_ctx: int = Field(default=2048, gt=0)
    n_threads: int | None = Field(default=None, gt=0)
    seed: int = 0
    prefix_cache_mib: int = Field(default=64, ge=0)
    prefix_store_mib: int = Field(default=256, ge=0)


class ScriptedOptions(_Strict):
    """``options`` of a ``scripted`` model: the replies it plays, in order."""

    replies: list[str] = Field(default_factory=list)


_OPTIONS: dict[str, type[_Strict]] = {"local": LocalOptions, "scripted": ScriptedOptions}
"""The options each provider takes; the hosted ones take none (sampling settings are a
prompt function's ``execution_settings``)."""


def _option_problems(name: str, model: ModelConfig) -> Iterator[str]:
    """A model's option its provider does not take (a misspelt key was ignored, and a hosted
    model's options did nothing), or a bad value."""
    kind = _OPTIONS.get(model.provider)
    if kind is None:
        if model.options:
            yield (
                f"models.{name}.options: {model.provider} takes no options (sampling settings "
                f"go in a prompt function's execution_settings; got {sorted(model.options)})"
            )
        return
    try:
        kind.model_validate(model.options)
    except ValidationError as error:
        for problem in error.errors():
            key = ".".join(str(part) for part in problem["loc"])
            reason = "unknown key" if problem["type"] == "extra_forbidden" else problem["msg"]
            yield f"models.{name}.options.{key}: {reason}"


class ModelConfig(CallPolicy):
    """One row of the model table: where a model is, what it is good at, what it costs."""

    provider: Provider
    model: str
    api_key_env: str | None = None
    base_url: str | None = None
    api_version: str | None = None
    capabilities: list[str] = Field(default_factory=list)
    cost: ModelCost = ModelCost()
    latency: Duration | None = None
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("api_version", mode="before")
    @classmethod
    def _version_as_text(cls, value: object) -> object:
        """``api_version: 2024-10-21`` unquoted is a YAML date; Azure wants the text."""
        return value.isoformat() if isinstance(value, date) else value

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        """A client given another scheme, or none, fails every call with a bare connection
        error that names no URL; say so at load instead."""
        if value is not None and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("expected an http:// or https:// URL")
        if value is not None and not urlsplit(value).hostname:
            raise ValueError("expected a URL with a host, such as http://127.0.0.1:11434/v1")
        return value

    @property
    def secret_variable(self) -> str | None:
        """The environment variable holding this model's key, if its provider needs one."""
        if self.api_key_env is not None:
            return self.api_key_env
        if self.provider == "openai" and self.base_url is not None:
            return None
        return DEFAULT_API_KEY_ENV.get(self.provider)


class ToolConfig(CallPolicy):
    """A plugin (``weather``) or one function (``weather.daily_temperatures``): policies, settings.

    ``cache_ttl`` turns caching on; ``stale_ttl`` is how much longer an expired
    entry may still be served when every call fails. ``endpoint`` and
    ``settings`` are the plugin's constructor arguments (plugin keys only).
    """

    endpoint: str | None = None
    cache_ttl: Duration | None = None
    stale_ttl: Duration | None = None
    settings: dict[str, Any] = Field(default_factory=dict)


class ResilienceDefaults(_Strict):
    """The one place defaults for every model and tool call are set."""

    timeout: Limit | None = 60.0
    retries: int = Field(default=0, ge=0)
    backoff_initial: Duration = 0.5
    backoff_multiplier: float = Field(default=2.0, ge=1.0)
    backoff_max: Duration = 30.0
    breaker_failures: int = Field(default=5, ge=1)
    breaker_cooldown: Duration = 30.0
    stale_ttl: Duration = 3600.0
    cache_max_entries: int = Field(default=DEFAULT_CACHE_MAX_ENTRIES, ge=1)
    """The response cache's bound; past it, the least recently used result is dropped."""
    deadline: Limit | None = None


class RunsConfig(_Strict):
    """Where runs keep what must outlive a step: effect keys, runs waiting for a person,
    and the record of every run."""

    database: str = ":memory:"
    """SQLite file (relative to the config file), or ``:memory:`` for this process only."""
    lease: Duration = Field(default=300.0, gt=0)
    """How long a resume's claim on a paused run lasts unless renewed; a crashed resumer's
    claim can be taken over after it."""
    keep: int = Field(default=1000, gt=0)
    """How many recorded runs the run store keeps; past it, the oldest are removed."""
    record: bool = True
    """Whether every run is recorded (``agent-host runs`` / ``trace``); paused runs and
    effect keys are kept either way."""


class PluginSources(_Strict):
    """Where native plugins come from: directories of modules and importable module names."""

    directories: list[str] = Field(default_factory=list)
    modules: list[str] = Field(default_factory=list)


class PromptSources(_Strict):
    """Directories holding prompt functions in Semantic Kernel's formats."""

    directories: list[str] = Field(default_factory=list)


TraceExporter = Literal["none", "console", "otlp", "jsonl"]
OtlpProtocol = Literal["http/protobuf", "grpc"]


class TelemetryConfig(_Strict):
    """OpenTelemetry tracing: where spans go and what they may hold.

    A field left out is decided by the standard ``OTEL_*`` variable of the
    process environment (see :mod:`host.telemetry.settings`); a field set here
    wins over it. ``enabled: false`` turns tracing off whatever the environment
    says. OTLP headers are never set here (they hold credentials): they come from
    ``OTEL_EXPORTER_OTLP_HEADERS`` only. A setting the chosen exporter does not use
    is an error rather than something silently ignored.
    """

    enabled: bool = True
    exporter: TraceExporter | None = None
    """``none``, ``console``, ``otlp``, or ``jsonl`` (config only, with ``file``)."""
    endpoint: str | None = None
    """OTLP endpoint; an http/protobuf URL without a path gets ``/v1/traces``."""
    protocol: OtlpProtocol | None = None
    file: str | None = Field(default=None, validate_default=True)
    """The JSON-lines file ``jsonl`` appends to (relative to the config file)."""
    service_name: str | None = Field(default=None, min_length=1)
    capture_content: bool = False
    """Record prompts, completions and tool arguments and results (redacted)."""

    @field_validator("endpoint")
    @classmethod
    def _otlp_endpoint(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        _used_by_otlp(info)
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value

    @field_validator("protocol")
    @classmethod
    def _otlp_protocol(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            _used_by_otlp(info)
        return value

    @field_validator("file")
    @classmethod
    def _jsonl_file(cls, value: str | None, info: ValidationInfo) -> str | None:
        if "exporter" not in info.data:
            return value  # the exporter itself is wrong, and reported
        jsonl = info.data["exporter"] == "jsonl"
        if value is None and jsonl:
            raise ValueError("required with exporter: jsonl (the JSON-lines file spans go to)")
        if value is not None and not jsonl:
            raise ValueError("only used by exporter: jsonl")
        if value is not None and not value.strip():
            raise ValueError("expected a file path")
        return value


def _used_by_otlp(info: ValidationInfo) -> None:
    """Raise unless the exporter is ``otlp`` or left to ``OTEL_TRACES_EXPORTER``."""
    exporter = info.data.get("exporter")
    if exporter is not None and exporter != "otlp":
        raise ValueError(f"only used by exporter: otlp (exporter is {exporter})")


PLANNERS: dict[str, str] = {
    "model": "planners.llm:plan_with_model",
    "clauses": "planners.clauses:plan_with_clauses",
}
"""The built-in ``planning.planner`` names and the ``module:callable`` each stands for."""

_CALLABLE = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")


class PlanningConfig(_Strict):
    """How ``run`` and ``plan`` turn a request into a plan.

    ``planner`` is a built-in name or a ``module:callable`` (see
    :data:`host.planning.Planner`). ``model`` asks the model routed for
    capability ``plan`` and feeds problems back up to ``repairs`` times before
    falling back to the clause planner; ``clauses`` uses the deterministic
    clause planner alone.
    """

    planner: str = "clauses"
    repairs: int = Field(default=2, ge=0)

    @field_validator("planner")
    @classmethod
    def _named_planner(cls, value: str) -> str:
        if value not in PLANNERS and _CALLABLE.fullmatch(value) is None:
            raise ValueError(f"expected {', '.join(PLANNERS)} or module:callable")
        return value

    @property
    def planner_target(self) -> str:
        """The ``module:callable`` of :attr:`planner`, a built-in name resolved."""
        return PLANNERS.get(self.planner, self.planner)


AGENT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""What an agent's name may be: it names the agent's internal prompt function."""

FUNCTION_NAME = r"[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*"
"""A loaded function's name: ``plugin.function``."""

AGENT_FUNCTION = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\.(\*|[A-Za-z_][A-Za-z0-9_]*)")
"""An entry of an agent's ``functions``: ``plugin.function`` or ``plugin.*``."""


class AgentConfig(_Strict):
    """One agent of the ``agents:`` section (:class:`host.agents.Agent` in Python).

    Its turns are routed by ``capability`` unless ``model`` pins a configured
    model (give one or the other). ``output_schema`` holds its reply to JSON of
    that schema (constrained decoding where the provider supports
    ``response_format``); a reply that does not fit fails the turn.

    An agent that ``runs`` a loaded function (``plugin.function``) takes its turn as
    a step of it (a prompt function routed by ``capability``, validated as
    configured): each parameter is given its ``arguments`` template, the task
    (``task``), the last reply (``message``), the transcript (``transcript``), or
    else the field of its name in the latest JSON reply of the transcript.
    """

    description: str = ""
    instructions: str = ""
    runs: str | None = Field(default=None, pattern=f"^{FUNCTION_NAME}$")
    arguments: dict[str, str] = Field(default_factory=dict)
    """What the function an agent ``runs`` is given: parameter → text, with ``{task}`` and
    ``{message}`` (the last reply) filled in."""
    capability: str = Field(default="write", min_length=1)
    model: str | None = None
    output_schema: dict[str, Any] | None = None
    max_tokens: int | None = Field(default=None, gt=0)
    functions: list[str] = Field(default_factory=list)
    """The loaded functions its turns may call as tools: ``plugin.function`` names or
    ``plugin.*`` globs, resolved against the catalogue on the host's first team run."""
    max_tool_calls: int = Field(default=5, gt=0)
    """How many of a turn's model requests may call tools; the next is asked without them."""

    @field_validator("functions")
    @classmethod
    def _function_names(cls, value: list[str]) -> list[str]:
        for entry in value:
            if AGENT_FUNCTION.fullmatch(entry) is None:
                raise ValueError(f"{entry!r} is not plugin.function or plugin.*")
        return value

    @field_validator("output_schema")
    @classmethod
    def _valid_schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            check_schema(value)
        return value

    @model_validator(mode="after")
    def _one_route(self) -> AgentConfig:
        if self.runs is not None:
            modelled = {"instructions", "model", "output_schema", "max_tokens"}
            given = sorted(modelled & self.model_fields_set) + (
                ["functions"] if self.functions else []
            )
            if given:
                raise ValueError(f"an agent that runs a function has no {', '.join(given)}")
            return self
        if self.arguments:
            raise ValueError("arguments are given only to a function an agent runs")
        if not self.instructions:
            raise ValueError("give instructions (or runs: plugin.function)")
        if self.model is not None and "capability" in self.model_fields_set:
            raise ValueError("give capability or model, not both")
        return self


class HostConfig(_Strict):
    """The whole configuration of one host."""

    default_model: str | None = None
    models: dict[str, ModelConfig] = Field(default_factory=dict)
    tools: dict[str, ToolConfig] = Field(default_factory=dict)
    plugins: PluginSources = PluginSources()
    prompts: PromptSources = PromptSources()
    telemetry: TelemetryConfig = TelemetryConfig()
    resilience: ResilienceDefaults = ResilienceDefaults()
    runs: RunsConfig = RunsConfig()
    validation: dict[str, Validation] = Field(default_factory=dict)
    """Validation for every step calling ``plugin.function``, unless the step has its own."""
    planning: PlanningConfig = PlanningConfig()
    agents: dict[str, AgentConfig] = Field(default_factory=dict)
    """The agents teams are made of, by name."""
    agent_directories: list[str] = Field(default_factory=list)
    """Directories of agent files: each ``<name>.yaml`` holds one agent (the fields of an
    ``agents:`` entry)."""

    @model_validator(mode="after")
    def _references_resolve(self) -> HostConfig:
        """Every name one part of the config gives another resolves; each problem is one
        line of the error (the loader places each at its key's line)."""
        if not self.models:
            raise ValueError("models: expected at least one model")
        problems = [*self._agent_problems(), *self._model_problems(), *self._tool_problems()]
        if problems:
            raise ValueError("\n".join(problems))
        _refuse_cycles("models", self._model_fallbacks())
        _refuse_cycles("tools", self._tool_fallbacks())
        return self

    def _agent_problems(self) -> Iterator[str]:
        for name, agent in self.agents.items():
            if AGENT_NAME.fullmatch(name) is None:
                yield f"agents.{name}: a name is letters, digits and _ (got {name!r})"
            if agent.model is not None and agent.model not in self.models:
                yield (
                    f"agents.{name}.model: {agent.model!r} is not in models "
                    f"(expected one of {sorted(self.models)})"
                )
        if self.default_model is not None and self.default_model not in self.models:
            yield (
                f"default_model: {self.default_model!r} is not in models "
                f"(expected one of {sorted(self.models)})"
            )

    def _model_problems(self) -> Iterator[str]:
        for name, model in self.models.items():
            yield from _option_problems(name, model)
            if model.provider == "azure_openai" and model.base_url is None:
                yield f"models.{name}.provider: azure_openai needs base_url (the resource endpoint)"
            for target in model.fallback:
                if isinstance(target, StaticValue):
                    continue
                provider, slash, model_name = target.partition("/")
                if not slash and target not in self.models:
                    yield (
                        f"models.{name}.fallback: {target!r} is neither a model in the table "
                        "nor provider/model (e.g. openai/gpt-4)"
                    )
                elif slash and provider not in get_args(Provider):
                    yield f"models.{name}.fallback: unknown provider {provider!r} in {target!r}"
                elif slash and not model_name.strip():
                    yield f"models.{name}.fallback: no model after the / in {target!r}"
                elif provider == "azure_openai" and slash:
                    yield (
                        f"models.{name}.fallback: {target!r} has no resource endpoint "
                        "(add it to models with a base_url and name it)"
                    )

    def _tool_problems(self) -> Iterator[str]:
        for name, tool in self.tools.items():
            for target in tool.fallback:
                if isinstance(target, StaticValue):
                    continue
                plugin, _, function = target.partition(".")
                if not plugin or not function:
                    yield f"tools.{name}.fallback: {target!r} is not plugin.function"

    def _model_fallbacks(self) -> dict[str, list[str]]:
        """Each model's fallbacks that are models in the table."""
        return {
            name: [t for t in model.fallback if isinstance(t, str) and t in self.models]
            for name, model in self.models.items()
        }

    def _tool_fallbacks(self) -> dict[str, list[str]]:
        """Each tools key's fallbacks, as the tools key whose policy each target follows
        (its own entry, else its plugin's), when it has one."""
        edges: dict[str, list[str]] = {}
        for name, tool in self.tools.items():
            edges[name] = []
            for target in tool.fallback:
                if isinstance(target, StaticValue):
                    continue
                plugin = target.partition(".")[0]
                key = target if target in self.tools else plugin
                if key in self.tools:
                    edges[name].append(key)
        return edges

    @property
    def default_model_name(self) -> str:
        """The model prompt functions use unless their settings name another."""
        return self.default_model or next(iter(self.models))


def _refuse_cycles(section: str, fallbacks: Mapping[str, list[str]]) -> None:
    """Raise ``ValueError`` at ``section.<name>.fallback`` for a fallback chain that
    comes back to where it started (``a -> b -> a``, or ``a -> a``)."""
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            cycle = [*path[path.index(name) :], name]
            raise ValueError(f"{section}.{cycle[0]}.fallback: fallback cycle {' -> '.join(cycle)}")
        if name in done:
            return
        for target in fallbacks.get(name, ()):
            visit(target, [*path, name])
        done.add(name)

    for name in fallbacks:
        visit(name, [])
