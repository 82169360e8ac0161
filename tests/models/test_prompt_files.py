"""The default prompt functions in prompts/ load with Semantic Kernel as documented."""

from __future__ import annotations

from pathlib import Path

import pytest
from semantic_kernel import Kernel
from semantic_kernel.contents import ChatHistory
from semantic_kernel.functions import KernelFunction

from host.models.local import LocalChatCompletion

PROMPTS = Path(__file__).resolve().parents[2] / "prompts"

PARAMETERS: dict[str, dict[str, tuple[str, bool]]] = {
    "email.draft_reply": {
        "message": ("", True),
        "fields": ("", False),
        "urgency": ("medium", False),
    },
    "email.extract_fields": {"message": ("", True)},
    "email.urgency": {"message": ("", True)},
    "marketing.promo_copy": {
        "input": ("", True),
        "product": ("our shop", False),
        "facts": ("", False),
        "tone": ("upbeat", False),
        "feedback": ("", False),
    },
}
"""Every default prompt function: parameter name -> (default, required)."""

JSON_FIELDS = {
    "email.extract_fields": ["sender", "subject", "request", "deadline", "customer_id"],
    "email.urgency": ["reason", "urgency"],
}


@pytest.fixture(scope="module")
def functions() -> dict[str, KernelFunction]:
    kernel = Kernel()
    for folder in sorted(path for path in PROMPTS.iterdir() if path.is_dir()):
        kernel.add_plugin(parent_directory=str(PROMPTS), plugin_name=folder.name)
    return {
        f"{plugin.name}.{name}": function
        for plugin in kernel.plugins.values()
        for name, function in plugin.functions.items()
    }


def test_every_prompt_file_loads(functions: dict[str, KernelFunction]) -> None:
    assert sorted(functions) == sorted(PARAMETERS)


@pytest.mark.parametrize("name", sorted(PARAMETERS))
def test_function_has_its_name_and_a_description(
    functions: dict[str, KernelFunction], name: str
) -> None:
    function = functions[name]

    assert function.name == name.split(".")[1]
    assert function.description is not None and len(function.description) >= 40


@pytest.mark.parametrize("name", sorted(PARAMETERS))
def test_function_parameters_have_documented_defaults(
    functions: dict[str, KernelFunction], name: str
) -> None:
    parameters = {
        parameter.name: (parameter.default_value, parameter.is_required)
        for parameter in functions[name].parameters
    }

    assert parameters == PARAMETERS[name]
    assert all(parameter.description for parameter in functions[name].parameters)


@pytest.mark.parametrize("name", sorted(PARAMETERS))
def test_default_settings_are_short_greedy_and_constrained(
    functions: dict[str, KernelFunction], name: str
) -> None:
    service = LocalChatCompletion(service_id="local")

    settings = service.get_prompt_execution_settings_from_settings(
        functions[name].prompt_execution_settings["default"]
    )

    assert settings.max_tokens is not None and settings.max_tokens <= 160
    assert settings.temperature == 0.0
    assert (settings.grammar is None) == (settings.llama_response_format() is not None)


@pytest.mark.parametrize(("name", "fields"), sorted(JSON_FIELDS.items()))
def test_json_function_requires_its_fields(
    functions: dict[str, KernelFunction], name: str, fields: list[str]
) -> None:
    service = LocalChatCompletion(service_id="local")
    settings = service.get_prompt_execution_settings_from_settings(
        functions[name].prompt_execution_settings["default"]
    )

    json_format = settings.llama_response_format()

    assert json_format is not None
    assert json_format["schema"]["required"] == fields


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PARAMETERS))
async def test_output_constraint_is_accepted_by_llama_cpp(
    functions: dict[str, KernelFunction], name: str
) -> None:
    service = LocalChatCompletion(service_id="local")
    settings = service.get_prompt_execution_settings_from_settings(
        functions[name].prompt_execution_settings["default"]
    )
    settings.max_tokens = 1
    history = ChatHistory()
    history.add_user_message("hi")

    reply = await service.get_chat_message_content(history, settings)

    assert reply is not None
