"""The default prompt functions in prompts/ load with Semantic Kernel as documented, and the
prose ones keep their shape on an OpenAI-compatible route, where no grammar binds them."""

from __future__ import annotations

from typing import Any

import pytest
from semantic_kernel import Kernel
from semantic_kernel.contents import ChatHistory
from semantic_kernel.functions import KernelFunction

from host import AgentHost
from host.models.local import LocalChatCompletion
from host.state import RunResult
from host.testing import ChatReply, OpenAICompatibleServer, ScriptedChatCompletion
from tests.conftest import ROOT

PROMPTS = ROOT / "prompts"

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


FACTS = "Shanghai 18°C on 2026-11-24"
JUNK = " mendatang\n subtreemod"
"""What Gemma 3 on llama.cpp's server appended to the copy when nothing stopped it."""

PROSE: dict[str, tuple[dict[str, Any], str, list[str]]] = {
    "marketing.promo_copy": (
        {"input": "promote our iced tea", "facts": FACTS},
        f"{FACTS}. Come to the shop at our shop.",
        ["\n"],
    ),
    "email.draft_reply": (
        {"message": "Please send invoice 2024-113 by Friday. Anna"},
        "Dear Anna,\n\nWe will send invoice 2024-113 by Friday.\n\nBest regards,\nCustomer Service",
        ["\n\n\n", "\nEmail:", "\nDear "],
    ),
}
"""Each grammar-bound prose function: arguments, a reply in its shape, its stop sequences."""


async def writer_run(
    monkeypatch: pytest.MonkeyPatch, function: str, reply: str
) -> tuple[RunResult, list[dict[str, Any]]]:
    """One step of ``function`` under the shipped config, its writer route served by the real
    openai client from a loopback server that always answers ``reply``; the run, and the
    request bodies."""
    arguments = PROSE[function][0]
    step = {"id": "s", "function": function, "arguments": arguments, "capability": "write"}
    cheap = ScriptedChatCompletion("local")  # no script: a call to it fails the step
    async with OpenAICompatibleServer(default=ChatReply(reply)) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        async with AgentHost(ROOT / "config" / "host.yaml", models={"local": cheap}) as host:
            result = await host.execute({"steps": [step]})
    assert result.steps[0].model == "writer"
    return result, server.requests


@pytest.mark.parametrize("function", sorted(PROSE))
async def test_prose_in_shape_passes_with_the_stop_sequences_sent(
    monkeypatch: pytest.MonkeyPatch, function: str
) -> None:
    _, reply, stop = PROSE[function]

    result, requests = await writer_run(monkeypatch, function, reply)

    assert (result.status, result.output, result.degraded) == ("ok", reply, False)
    assert [body["stop"] for body in requests] == [stop]


async def test_copy_with_junk_after_its_sentences_is_downgraded_to_the_template(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, reply, stop = PROSE["marketing.promo_copy"]

    result, requests = await writer_run(monkeypatch, "marketing.promo_copy", reply + JUNK)

    assert result.status == "ok" and result.degraded
    assert result.output == f"{FACTS}. Come and enjoy it at our shop!"
    assert [body["stop"] for body in requests] == [stop, stop]  # the first try and the retry


async def test_a_draft_reply_with_junk_after_its_sign_off_is_handed_to_a_person(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, reply, stop = PROSE["email.draft_reply"]

    result, requests = await writer_run(monkeypatch, "email.draft_reply", reply + JUNK)

    assert (result.status, result.waiting_step) == ("needs_human", "s")
    assert [body["stop"] for body in requests] == [stop]
