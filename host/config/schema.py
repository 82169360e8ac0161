"""The shape of ``host.yaml``: frozen pydantic models, unknown keys rejected.

Policies (timeouts, retries, fallback, cache) are plain data here; the filters
that apply them read these objects and never parse YAML themselves.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from host.config.durations import Duration

Provider = Literal["openai", "azure_openai", "anthropic", "local", "scripted"]

DEFAULT_API_KEY_ENV: dict[str, str] = {
    "openai": "OPENAI_API_KEY",
    "azure_openai": "AZURE_OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
}
"""The variable holding each hosted provider's key when ``api_key_env`` is not given."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _as_chain(value: object) -> object:
    return [value] if isinstance(value, str) else value


class ModelCost(_Strict):
    """Price in currency units per 1,000 tokens."""

    input: float = Field(default=0.0, ge=0)
    output: float = Field(default=0.0, ge=0)


class ModelConfig(_Strict):
    """One row of the model table: where a model is, what it is good at, what it costs."""

    provider: Provider
    model: str
    api_key_env: str | None = None
    base_url: str | None = None
    api_version: str | None = None
    timeout: Duration | None = None
    retries: int = Field(default=0, ge=0)
    fallback: list[str] = Field(default_factory=list)
    capabilities: list[str] = Field(default_factory=list)
    cost: ModelCost = ModelCost()
    latency: Duration | None = None
    options: dict[str, Any] = Field(default_factory=dict)

    _chain = field_validator("fallback", mode="before")(_as_chain)

    @property
    def secret_variable(self) -> str | None:
        """The environment variable holding this model's key, if its provider needs one."""
        if self.api_key_env is not None:
            return self.api_key_env
        if self.provider == "openai" and self.base_url is not None:
            return None
        return DEFAULT_API_KEY_ENV.get(self.provider)


class ToolConfig(_Strict):
    """Settings for one plugin: endpoint, call policies, and its constructor ``settings``."""

    endpoint: str | None = None
    timeout: Duration | None = None
    retries: int = Field(default=0, ge=0)
    fallback: list[str] = Field(default_factory=list)
    cache_ttl: Duration | None = None
    settings: dict[str, Any] = Field(default_factory=dict)

    _chain = field_validator("fallback", mode="before")(_as_chain)


class PluginSources(_Strict):
    """Where native plugins come from: directories of modules and importable module names."""

    directories: list[str] = Field(default_factory=list)
    modules: list[str] = Field(default_factory=list)


class PromptSources(_Strict):
    """Directories holding prompt functions in Semantic Kernel's formats."""

    directories: list[str] = Field(default_factory=list)


class TelemetryConfig(_Strict):
    """OpenTelemetry export; prompt and response content is recorded only when asked."""

    enabled: bool = False
    exporter: Literal["none", "console", "otlp"] = "none"
    endpoint: str | None = None
    service_name: str = "agent-host"
    capture_content: bool = False


class HostConfig(_Strict):
    """The whole configuration of one host."""

    default_model: str | None = None
    models: dict[str, ModelConfig] = Field(default_factory=dict)
    tools: dict[str, ToolConfig] = Field(default_factory=dict)
    plugins: PluginSources = PluginSources()
    prompts: PromptSources = PromptSources()
    telemetry: TelemetryConfig = TelemetryConfig()

    @model_validator(mode="after")
    def _references_resolve(self) -> HostConfig:
        if not self.models:
            raise ValueError("models: expected at least one model")
        if self.default_model is not None and self.default_model not in self.models:
            raise ValueError(
                f"default_model: {self.default_model!r} is not in models "
                f"(expected one of {sorted(self.models)})"
            )
        for name, model in self.models.items():
            for target in model.fallback:
                provider = target.split("/", 1)[0] if "/" in target else None
                if provider is None and target not in self.models:
                    raise ValueError(
                        f"models.{name}.fallback: {target!r} is neither a model in the table "
                        "nor provider/model (e.g. openai/gpt-4)"
                    )
                if provider is not None and provider not in get_args(Provider):
                    raise ValueError(
                        f"models.{name}.fallback: unknown provider {provider!r} in {target!r}"
                    )
        return self

    @property
    def default_model_name(self) -> str:
        """The model prompt functions use unless their settings name another."""
        return self.default_model or next(iter(self.models))
