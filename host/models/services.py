"""The model table made live: one chat service per configured model, built on first use."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from pydantic import ValidationError

from host.config import LoadedConfig, ModelConfig
from host.errors import AgentHostError, ConfigError, FunctionNotFoundError, ProviderError
from host.models.providers import FACTORIES

if TYPE_CHECKING:
    from semantic_kernel.connectors.ai.chat_completion_client_base import ChatCompletionClientBase


class ModelServices:
    """Builds each model's service lazily, so a missing key only matters for a model in use.

    ``overrides`` replaces named models with ready services (tests pass scripted
    doubles this way).
    """

    def __init__(
        self,
        loaded: LoadedConfig,
        overrides: Mapping[str, ChatCompletionClientBase] | None = None,
    ) -> None:
        self._loaded = loaded
        self._overrides = dict(overrides or {})
        self._ad_hoc: dict[str, ModelConfig] = {}
        self._services: dict[str, ChatCompletionClientBase] = dict(self._overrides)
        self._closed = False

    @property
    def default(self) -> str:
        """The name of the model used when nothing names another."""
        return self._loaded.config.default_model_name

    def names(self) -> list[str]:
        """Every configured model name, in config order."""
        return list(self._loaded.config.models)

    def config(self, name: str) -> ModelConfig:
        """The row of model ``name``: configured, or made for a ``provider/model`` target."""
        row = self._loaded.config.models.get(name) or self._ad_hoc.get(name)
        if row is None:
            raise FunctionNotFoundError(name, self.names())
        return row

    def ensure(self, target: str) -> None:
        """Make ``target`` usable: a configured name, or ``provider/model`` (e.g. openai/gpt-4).

        An ad-hoc ``provider/model`` row takes the provider's defaults (its key
        variable, no base URL); its secret is only needed when it is called.
        """
        if target in self._loaded.config.models or target in self._ad_hoc:
            return
        provider, _, model = target.partition("/")
        if not model:
            raise ConfigError([f"fallback {target!r}: expected a model name or provider/model"])
        self._ad_hoc[target] = ModelConfig.model_validate({"provider": provider, "model": model})

    def get(self, name: str) -> ChatCompletionClientBase:
        """The service of model ``name``, built now if this is its first use.

        Once :meth:`close` has begun, a call still in flight gets a :class:`ProviderError`
        (not retryable) instead of a fresh client that nothing would close.
        """
        if self._closed:
            raise ProviderError(name, "the host was closed while this call was in flight")
        service = self._services.get(name)
        if service is None:
            service = self._build(name, self.config(name))
            self._services[name] = service
        return service

    async def close(self) -> None:
        """Close the HTTP clients of the services this table built (not the overrides); from
        now on :meth:`get` refuses."""
        self._closed = True
        built = {name: s for name, s in self._services.items() if name not in self._overrides}
        for name, service in built.items():
            close = getattr(getattr(service, "client", None), "close", None)
            if close is not None:
                await close()
            del self._services[name]

    def _build(self, name: str, model: ModelConfig) -> ChatCompletionClientBase:
        secret = self._loaded.secret(name, model)
        try:
            return FACTORIES[model.provider](name, model, secret)
        except AgentHostError:
            raise
        except (TypeError, ValidationError, ValueError) as error:
            raise ConfigError(
                [f"models.{name}: cannot build the {model.provider} service: {error}"]
            ) from None
