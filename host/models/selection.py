"""Which configured model serves a prompt function: SK's service-selector seam."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from semantic_kernel.connectors.ai.prompt_execution_settings import PromptExecutionSettings
from semantic_kernel.const import DEFAULT_SERVICE_NAME
from semantic_kernel.services.ai_service_selector import AIServiceSelector

from host.errors import ConfigError
from host.models.services import ModelServices
from host.resilience.context import current

if TYPE_CHECKING:
    from semantic_kernel.functions import KernelArguments, KernelFunction
    from semantic_kernel.services.ai_service_client_base import AIServiceClientBase


class ModelChoice(NamedTuple):
    """A configured model name, the settings it gets, and the reason it was chosen."""

    name: str
    settings: PromptExecutionSettings
    reason: str


class ModelSelector(AIServiceSelector):
    """Pick the model named by the call's or the function's execution settings, else the default.

    Settings keyed by a configured model name win (call settings before the
    function's); ``default`` settings then apply to the chosen model. Call
    settings are laid over the function's own (a call naming a model keeps the
    function's ``max_tokens``, grammar, response format). Services are built on
    first use, so a missing key fails only the function that needs it.
    """

    def __init__(self, services: ModelServices) -> None:
        self.services = services

    def configured(self, name: str) -> str:
        """``name`` when it names a configured model; else :class:`ConfigError` listing them."""
        names = self.services.names()
        if name not in names:
            listed = ", ".join(names) or "none"
            raise ConfigError([f"unknown model {name!r} (configured models: {listed})"])
        return name

    def model_for(
        self,
        function: KernelFunction | None,
        arguments: KernelArguments | None,
        override: str | None = None,
    ) -> ModelChoice:
        """The model a call will use, its execution settings, and why.

        ``override`` is the model a fallback hop chose: it wins over the rest.
        """
        call = dict(arguments.execution_settings or {}) if arguments is not None else {}
        own = dict(getattr(function, "prompt_execution_settings", None) or {})

        def settings_for(key: str) -> PromptExecutionSettings:
            base = own.get(key) or own.get(DEFAULT_SERVICE_NAME)
            extra = call.get(key) or call.get(DEFAULT_SERVICE_NAME)
            return (
                _overlay(base, extra)
                if base and extra
                else base or extra or PromptExecutionSettings()
            )

        if override is not None:
            return ModelChoice(override, settings_for(override), "fallback")
        names = set(self.services.names())
        for key in [*call, *own]:
            if key in names:
                return ModelChoice(key, settings_for(key), f"execution settings name model {key!r}")
        return ModelChoice(
            self.services.default, settings_for(DEFAULT_SERVICE_NAME), "the default model"
        )

    def select_ai_service(
        self,
        kernel: Any,
        function: KernelFunction | None = None,
        arguments: KernelArguments | None = None,
        type_: Any = None,
    ) -> tuple[AIServiceClientBase, PromptExecutionSettings]:
        """SK's hook: the service of :meth:`model_for`, with settings in its own class."""
        name, settings, _ = self.model_for(function, arguments, current.get().model)
        service = self.services.get(name)
        settings_class = service.get_prompt_execution_settings_class()
        if not isinstance(settings, settings_class):
            settings = settings_class.from_prompt_execution_settings(settings)
        return service, settings


def _overlay(
    base: PromptExecutionSettings, extra: PromptExecutionSettings
) -> PromptExecutionSettings:
    """``base`` with ``extra``'s values on top (the call's settings over the function's)."""
    return PromptExecutionSettings(
        service_id=extra.service_id or base.service_id,
        extension_data={**base.extension_data, **extra.extension_data},
        function_choice_behavior=extra.function_choice_behavior or base.function_choice_behavior,
    )
