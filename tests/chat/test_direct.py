"""``/chat``: the model over real HTTP (streamed), the loaded functions as its tools."""

from __future__ import annotations

import asyncio
from pathlib import Path

from host.testing import ChatReply, ChatToolCall, HttpError, OpenAICompatibleServer
from tests.chat.chat_kit import Terminal, environment, write_config


def hosted(base_url: str) -> str:
    """Model ``hosted``: an OpenAI-compatible server with tool calling, at ``base_url``."""
    return (
        "  hosted:\n    provider: openai\n    model: gpt-test\n"
        f"    base_url: {base_url}\n    api_key_env: CHAT_TEST_KEY\n"
        "    cost: {input: 1.0, output: 1.0}\n"
    )


async def test_each_tool_call_is_shown_and_the_reply_streams(tmp_path: Path) -> None:
    async with OpenAICompatibleServer(default=None) as server:
        server.enqueue(
            ChatToolCall("desk-greet", {"visitor": "Bob"}, usage=(20, 5)),
            ChatReply("Bob has been greeted warmly.", usage=(30, 6)),
        )
        config = write_config(tmp_path, models=hosted(server.base_url))
        chat = Terminal(config, env=environment(tmp_path, CHAT_TEST_KEY="sk-test"))
        await asyncio.to_thread(chat.send, "/model hosted")
        await asyncio.to_thread(chat.send, "/chat")
        await asyncio.to_thread(chat.wait_for, "lines go to hosted directly")
        await asyncio.to_thread(chat.send, "please greet Bob")
        shown = await asyncio.to_thread(chat.wait_for, "Bob has been greeted warmly.")
        await asyncio.to_thread(chat.wait_for, "hosted · 1 tool call · ")
        summary = await asyncio.to_thread(chat.wait_for, "\n")
        assert await asyncio.to_thread(chat.leave) == 0
    assert "⚙ desk.greet(visitor=Bob) → Hello, Bob!" in shown
    assert summary.endswith("tokens 50→11 · cost 0.0610")
    first, second = server.requests
    assert first["stream"] and first["messages"][-1] == {
        "role": "user",
        "content": "please greet Bob",
    }
    offered = {tool["function"]["name"] for tool in first["tools"]}
    assert offered == {"desk-greet", "desk-count", "talk-Echo"}  # the host's own are left out
    assert second["messages"][-1]["content"] == "Hello, Bob!"


async def test_calls_past_the_cap_do_not_run_and_the_model_is_told(tmp_path: Path) -> None:
    async with OpenAICompatibleServer(default=None) as server:
        server.enqueue(
            ChatToolCall("desk-greet", {"visitor": "Ann"}),
            ChatToolCall("desk-greet", {"visitor": "Ben"}),
            ChatReply("I greeted Ann only."),
        )
        config = write_config(tmp_path, models=hosted(server.base_url))
        env = environment(tmp_path, CHAT_TEST_KEY="sk-test")
        chat = Terminal(config, "--model", "hosted", "--max-tool-calls", "1", env=env)
        await asyncio.to_thread(chat.send, "/chat greet Ann and Ben")
        shown = await asyncio.to_thread(chat.wait_for, "I greeted Ann only.")
        await asyncio.to_thread(chat.wait_for, "1 tool call")
        await asyncio.to_thread(chat.wait_for, "tool call limit reached")
        assert await asyncio.to_thread(chat.leave) == 0
    assert "desk.greet(visitor=Ann) → Hello, Ann!" in shown
    assert "desk.greet(visitor=Ben) → Tool call limit of this turn reached (1)" in shown
    assert "(not run)" in shown
    assert len(server.requests) == 3


async def test_chat_mode_sends_lines_to_the_model_until_chat_again(tmp_path: Path) -> None:
    config = write_config(tmp_path, replies=("Just words.",))
    chat = Terminal(config, env=environment(tmp_path))
    await asyncio.to_thread(chat.send, "/chat")
    await asyncio.to_thread(chat.wait_for, "lines go to local directly")
    await asyncio.to_thread(chat.send, "greet Alice")
    await asyncio.to_thread(chat.wait_for, "Just words.")
    await asyncio.to_thread(chat.wait_for, "local · 0 tool calls")
    await asyncio.to_thread(chat.send, "/chat")
    await asyncio.to_thread(chat.wait_for, "each line is planned and executed again")
    await asyncio.to_thread(chat.send, "greet Alice")
    await asyncio.to_thread(chat.wait_for, "Hello, greet Alice!")
    assert await asyncio.to_thread(chat.leave) == 0


async def test_a_failed_reply_is_one_error_line_naming_the_model(tmp_path: Path) -> None:
    """Kills: SK's exception text (its service class, the openai error's repr) as the line,
    naming neither the model nor what went wrong."""
    async with OpenAICompatibleServer(default=None) as server:
        server.enqueue(
            HttpError(400, {"error": {"message": "the prompt is too long"}}),
            ChatReply("Back again."),
        )
        config = write_config(tmp_path, models=hosted(server.base_url))
        env = environment(tmp_path, CHAT_TEST_KEY="sk-test")
        chat = Terminal(config, "--model", "hosted", env=env)
        await asyncio.to_thread(chat.send, "/chat hello")
        line = await asyncio.to_thread(chat.wait_for, "the prompt is too long")
        await asyncio.to_thread(chat.send, "/chat hello again")
        await asyncio.to_thread(chat.wait_for, "Back again.")
        assert await asyncio.to_thread(chat.leave) == 0
    assert "error: model 'hosted': BadRequestError: Error code: 400" in line
    assert "ServiceResponseException" not in line and "OpenAIChatCompletion" not in line
