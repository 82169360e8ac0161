"""The embedded model streams: SK's streaming call and a watched step get the reply piece by
piece, the same reply as unstreamed at temperature 0."""

from __future__ import annotations

import pytest
from semantic_kernel.connectors.ai.completion_usage import CompletionUsage
from semantic_kernel.contents import ChatHistory, StreamingChatMessageContent

from host import AgentHost
from host.models.local import LocalChatCompletion, LocalExecutionSettings
from host.progress import Progress, StepText, watching

pytestmark = pytest.mark.slow


def _ask(text: str) -> ChatHistory:
    history = ChatHistory()
    history.add_user_message(text)
    return history


async def test_a_streamed_reply_comes_in_pieces_and_matches_the_unstreamed_one() -> None:
    service = LocalChatCompletion(service_id="local")
    settings = LocalExecutionSettings(max_tokens=24)
    question = _ask("Write one sentence about iced tea on a hot day.")

    whole = await service.get_chat_message_content(question, settings)
    chunks: list[StreamingChatMessageContent] = []
    async for update in service.get_streaming_chat_message_contents(question, settings):
        chunks.extend(update)

    assert whole is not None
    texts = [str(chunk) for chunk in chunks]
    assert len([t for t in texts if t]) > 3  # many pieces, not one at the end
    assert "".join(texts) == str(whole)
    last = chunks[-1]
    assert texts[-1] == "" and last.finish_reason == whole.finish_reason
    usage = last.metadata["usage"]
    assert isinstance(usage, CompletionUsage)
    assert usage.completion_tokens == whole.metadata["usage"].completion_tokens


async def test_a_watched_prompt_step_tells_its_text_as_the_model_writes_it() -> None:
    facts = "Shanghai: high 9°C, low 3°C"
    async with AgentHost() as host:
        quiet = await host.invoke("marketing.promo_copy", input="iced tea", facts=facts)
        events: list[Progress] = []
        with watching(events.append):
            told = await host.invoke("marketing.promo_copy", input="iced tea", facts=facts)
    pieces = [event.text for event in events if isinstance(event, StepText)]
    assert len(pieces) > 3
    assert told.output == quiet.output  # streaming changes nothing at temperature 0
    assert "".join(pieces).strip() == told.output.strip()
    assert told.tokens_out == quiet.tokens_out
