"""Which configured model serves a prompt function: SK's service-selector seam."""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, NamedTuple

from semantic_kernel.connectors.ai.prompt_execution_settings import PromptExecutionSettings
from semantic_kernel.const import DEFAULT_SERVICE_NAME
from semantic_kernel.services.ai_service_selector import AIServiceSelector

from host.models.services import ModelServices

if TYPE_CHECKING:
    from semantic_kernel.functions import KernelArguments, KernelFunction
    from semantic_kernel.services.ai_service_client_base import AIServiceClientBase


model_override: ContextVar[str | None] = ContextVar("agent_host_model_override", default=None)
"""Set by the fallback filter: the model that serves the prompt functions called in its scope."""


class ModelChoice(NamedTuple):
    """A configured model name, the settings it gets, and the reason it was chosen."""

    name: str
    settings: PromptExecutionSettings
    reason: str


class ModelSelector(AIServiceSelector):
    """Pick the model named by the call's or the function's execution settings, else the default.

    Settings keyed by a configured model name win (call settings before the
    function's); ``default`` settings then apply to the chosen model. Services are
    built on first use, so a missing key fails only the function that needs it.
    """

    def __init__(self, services: ModelServices) -> None:
        self.services = services

    def model_for(
        self, function: KernelFunction | None, arguments: KernelArguments | None
    ) -> ModelChoice:
        """The model a call will use, its execution settings, and why."""
        candidates = _settings(arguments, function)
        override = model_override.get()
        if override is not None:
            settings = candidates.get(override) or candidates.get(DEFAULT_SERVICE_NAME)
            return ModelChoice(override, settings or PromptExecutionSettings(), "fallback")
        names = set(self.services.names())
        for key, settings in candidates.items():
            if key in names:
                return ModelChoice(key, settings, f"execution settings name model {key!r}")
        settings = candidates.get(DEFAULT_SERVICE_NAME) or PromptExecutionSettings()
        return ModelChoice(self.services.default, settings, "the default model")

    def select_ai_service(
        self,
        kernel: Any,
        function: KernelFunction | None = None,
        arguments: KernelArguments | None = None,
        type_: Any = None,
    ) -> tuple[AIServiceClientBase, PromptExecutionSettings]:
        """SK's hook: the service of :meth:`model_for`, with settings in its own class."""
        name, settings, _ = self.model_for(function, arguments)
        service = self.services.get(name)
        settings_class = service.get_prompt_execution_settings_class()
        if not isinstance(settings, settings_class):
            settings = settings_class.from_prompt_execution_settings(settings)
        return service, settings


def _settings(
    arguments: KernelArguments | None, function: KernelFunction | None
) -> dict[str, PromptExecutionSettings]:
    merged: dict[str, PromptExecutionSettings] = {}
    if arguments is not None and arguments.execution_settings:
        merged.update(arguments.execution_settings)
    for key, settings in (getattr(function, "prompt_execution_settings", None) or {}).items():
        merged.setdefault(key, settings)
    return merged
