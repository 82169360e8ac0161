"""ScriptedChatCompletion: an SK chat service that plays back one step per model call."""

from collections.abc import Awaitable, Callable

import pytest
from semantic_kernel import Kernel
from semantic_kernel.connectors.ai.completion_usage import CompletionUsage
from semantic_kernel.connectors.ai.function_choice_behavior import FunctionChoiceBehavior
from semantic_kernel.connectors.ai.prompt_execution_settings import PromptExecutionSettings
from semantic_kernel.contents import ChatHistory, ChatMessageContent
from semantic_kernel.exceptions import FunctionExecutionException, KernelInvokeException
from semantic_kernel.functions import FunctionResult, KernelArguments, KernelFunctionFromPrompt

from host.testing import (
    Delay,
    Raise,
    Reply,
    ScriptedChatCompletion,
    ScriptExhaustedError,
    Step,
    ToolCall,
    ToolCalls,
)


class RecordingClock:
    """A clock that returns at once and remembers how long it was asked to wait."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)


def prompt_function(service_id: str, *, tools: bool = False) -> KernelFunctionFromPrompt:
    settings = PromptExecutionSettings(
        service_id=service_id,
        function_choice_behavior=FunctionChoiceBehavior.Auto() if tools else None,
        temperature=0.2,
    )
    return KernelFunctionFromPrompt(
        function_name="ask",
        plugin_name="chat",
        prompt="{{$request}}",
        prompt_execution_settings=settings,
    )


async def ask(kernel: Kernel, service: ScriptedChatCompletion, *, tools: bool = False) -> str:
    kernel.add_service(service)
    function = prompt_function(service.service_id, tools=tools)
    result = await kernel.invoke(function, KernelArguments(request="Note: buy milk"))
    assert isinstance(result, FunctionResult)
    return str(result)


async def complete(service: ScriptedChatCompletion, text: str = "Hi") -> ChatMessageContent:
    history = ChatHistory()
    history.add_user_message(text)
    [message] = await service.get_chat_message_contents(history, PromptExecutionSettings())
    return message


async def test_a_reply_step_answers_a_prompt_function(kernel: Kernel) -> None:
    service = ScriptedChatCompletion("writer", [Reply("Hello, world")])

    assert await ask(kernel, service) == "Hello, world"


async def test_each_call_records_its_messages_and_settings(kernel: Kernel) -> None:
    service = ScriptedChatCompletion("writer", [Reply("Hello")])

    await ask(kernel, service)

    [request] = service.requests
    assert request.messages == [{"role": "user", "content": "Note: buy milk"}]
    assert request.settings["temperature"] == 0.2
    assert "tools" not in request.settings


@pytest.mark.parametrize("function", ["notebook.write", "notebook-write"])
async def test_a_tool_call_step_runs_the_native_function_then_the_reply_answers(
    kernel: Kernel, notes: list[str], function: str
) -> None:
    script: list[Step] = [ToolCall(function, {"text": "buy milk"}, id="call-1"), Reply("Noted.")]
    service = ScriptedChatCompletion("writer", script)

    answer = await ask(kernel, service, tools=True)

    assert answer == "Noted."
    assert notes == ["buy milk"]
    offered = service.requests[0].settings
    assert offered["tool_choice"] == "auto"
    assert [tool["function"]["name"] for tool in offered["tools"]] == ["notebook-write"]
    assert service.requests[1].messages[-1] == {
        "role": "tool",
        "content": "noted: buy milk",
        "tool_call_id": "call-1",
    }


async def test_a_tool_calls_step_runs_every_call(kernel: Kernel, notes: list[str]) -> None:
    calls = [ToolCall("notebook.write", {"text": text}) for text in ("eggs", "milk")]
    service = ScriptedChatCompletion("writer", [ToolCalls(calls), Reply("Noted both.")])

    assert await ask(kernel, service, tools=True) == "Noted both."
    assert sorted(notes) == ["eggs", "milk"]
    assert [m["role"] for m in service.requests[1].messages] == [
        "user",
        "assistant",
        "tool",
        "tool",
    ]


async def test_a_streamed_tool_call_runs_the_function_and_the_reply_streams(
    kernel: Kernel, notes: list[str], stream_answer: Callable[..., Awaitable[str]]
) -> None:
    script: list[Step] = [ToolCall("notebook.write", {"text": "tea"}), Reply("All noted now")]
    kernel.add_service(ScriptedChatCompletion("writer", script))
    function = prompt_function("writer", tools=True)

    answer = await stream_answer(kernel, function, KernelArguments(request="Note tea"))

    assert notes == ["tea"]
    assert answer == "All noted now"


@pytest.mark.parametrize(
    "error", [TimeoutError("model timed out"), ConnectionResetError("peer reset")]
)
async def test_a_raise_step_raises_its_error_from_the_model_call(error: Exception) -> None:
    service = ScriptedChatCompletion("writer", [Raise(error)])

    with pytest.raises(type(error)) as raised:
        await complete(service)

    assert raised.value is error


async def test_through_kernel_invoke_the_raised_error_is_wrapped_twice_as_sk_does(
    kernel: Kernel,
) -> None:
    error = TimeoutError("model timed out")

    with pytest.raises(KernelInvokeException) as raised:
        await ask(kernel, ScriptedChatCompletion("writer", [Raise(error)]))

    assert isinstance(raised.value.__cause__, FunctionExecutionException)
    assert raised.value.__cause__.__cause__ is error


async def test_an_exhausted_script_fails_with_a_clear_error() -> None:
    service = ScriptedChatCompletion("writer", [Reply("only once")])
    await complete(service)

    with pytest.raises(
        ScriptExhaustedError, match="scripted model 'writer': no reply scripted for call 2"
    ):
        await complete(service)
    assert len(service.requests) == 2


async def test_the_default_step_answers_once_the_script_is_exhausted() -> None:
    service = ScriptedChatCompletion("writer", [Reply("first")], default=Reply("again"))

    answers = [(await complete(service)).content for _ in range(3)]

    assert answers == ["first", "again", "again"]


async def test_echo_replies_with_the_last_user_message() -> None:
    service = ScriptedChatCompletion.echo("parrot")

    assert (await complete(service, "Polly wants a cracker")).content == "Polly wants a cracker"


async def test_a_callable_step_decides_from_the_history() -> None:
    def count_messages(history: ChatHistory, settings: PromptExecutionSettings) -> Step:
        return Reply(f"{len(history.messages)} message(s)")

    service = ScriptedChatCompletion("writer", [count_messages])

    assert (await complete(service)).content == "1 message(s)"


async def test_a_delay_waits_on_the_injected_clock_before_its_step() -> None:
    clock = RecordingClock()
    service = ScriptedChatCompletion("writer", [Delay(2.5, Delay(1, Reply("late")))], clock=clock)

    assert (await complete(service)).content == "late"
    assert clock.waits == [2.5, 1]


@pytest.mark.parametrize(
    ("step", "usage"),
    [
        (Reply("Hi", usage=(12, 3)), CompletionUsage(prompt_tokens=12, completion_tokens=3)),
        (
            ToolCalls([ToolCall("notebook.write")], usage=(7, 1)),
            CompletionUsage(prompt_tokens=7, completion_tokens=1),
        ),
        (Reply("Hi there"), CompletionUsage(prompt_tokens=1, completion_tokens=2)),
    ],
    ids=["scripted reply usage", "scripted tool-call usage", "estimated by words"],
)
async def test_usage_is_reported_as_the_openai_connector_does(
    step: Step, usage: CompletionUsage
) -> None:
    message = await complete(ScriptedChatCompletion("writer", [step]))

    assert message.metadata["usage"] == usage


async def test_streamed_usage_arrives_with_the_last_chunk() -> None:
    service = ScriptedChatCompletion("writer", [Reply("one two three", usage=(4, 3))])
    history = ChatHistory()
    history.add_user_message("Count")

    updates = [
        message
        async for messages in service.get_streaming_chat_message_contents(
            history, PromptExecutionSettings()
        )
        for message in messages
    ]

    assert "".join(str(m) for m in updates) == "one two three"
    assert [m.metadata.get("usage") for m in updates] == [
        None,
        None,
        CompletionUsage(prompt_tokens=4, completion_tokens=3),
    ]


async def test_add_scripts_more_steps_after_those_not_played_yet() -> None:
    service = ScriptedChatCompletion("writer", [Reply("first")])

    service.add(Reply("second"), Reply("third"))
    answers = [(await complete(service)).content for _ in range(3)]

    assert answers == ["first", "second", "third"]


async def test_a_service_serving_another_name_shares_the_script_and_the_requests() -> None:
    """Kills: a twin with a script of its own (each model would replay the first reply),
    requests not shared, or a request not naming the model it asked."""
    shared = ScriptedChatCompletion("scripted", [Reply("one")])
    writer = shared.serving("writer", ai_model_id="gpt-x")
    critic = shared.serving("critic")
    shared.add(Reply("two"))

    answers = [(await complete(service)).content for service in (writer, critic)]

    assert answers == ["one", "two"]
    assert [request.model for request in shared.requests] == ["writer", "critic"]
    assert (writer.service_id, writer.ai_model_id, critic.ai_model_id) == (
        "writer",
        "gpt-x",
        "scripted",
    )
    with pytest.raises(ScriptExhaustedError, match="scripted model 'critic': no reply scripted"):
        await complete(critic)
