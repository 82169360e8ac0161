"""How the embedded model decodes: grammar checked on the chosen token, prompt prefixes reused.

Imported only when a GGUF file is loaded, since it needs llama-cpp-python.

Both speed-ups keep replies identical at temperature 0 to a fresh, fully
constrained decode:

- llama-cpp-python applies a grammar to the whole vocabulary (262k tokens for
  Gemma) before every pick. Like llama.cpp's own sampler, :class:`GrammarLastSampler`
  picks from the free distribution first and asks the grammar about that one
  token; only a rejected token costs a pass over the vocabulary. The greedy pick
  is the most likely token, so when the grammar allows it, it is also the most
  likely allowed token.
- :class:`PrefixReusingLlama` keeps the evaluated tokens a new prompt shares
  with the last one (the few-shot prefix of a prompt function) in the KV cache
  instead of evaluating them again. A prompt is evaluated in batches of
  ``n_batch`` tokens that always start at multiples of ``n_batch``, and only
  whole batches are kept, so every batch is computed from the same tokens and the
  same cache whether or not it was reused, and the logits are the same.
"""

from __future__ import annotations

import ctypes
import logging
from collections import OrderedDict
from collections.abc import Callable, Generator, Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from llama_cpp import Llama
from llama_cpp import llama_cpp as capi
from llama_cpp._internals import LlamaContext, LlamaSampler
from llama_cpp.llama_grammar import LlamaGrammar

from host.models.llama_log import route_native_log
from host.models.prompt_store import PromptStore

_TOKEN_DATA = np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)], align=True)
"""The memory layout of llama.cpp's ``llama_token_data``."""


class GrammarLastSampler:
    """A sampler chain constrained by a grammar that is consulted on the chosen token first.

    Stands in for llama-cpp-python's sampler (it offers the same ``sample``):
    the chain (penalties, top-k, temperature, greedy or random pick) runs on the
    free logits; the grammar sees the picked token alone, and only if it rejects
    it is the whole vocabulary constrained and the chain run again, as
    llama.cpp's ``common_sampler_sample`` does. Both samplers then accept the token.

    A ``greedy`` chain (temperature 0, no penalties) picks the most likely token,
    the first of equals, without building the candidates; after a rejection the
    grammar sees the :data:`SHORTLIST` most likely tokens first, and the whole
    vocabulary only if none of them is allowed more likely than every token left
    out: the pick is the one a pass over the whole vocabulary would make.
    """

    SHORTLIST = 64

    def __init__(
        self, chain: LlamaSampler, vocab: Any, grammar: LlamaGrammar, n_vocab: int, *, greedy: bool
    ):
        self._chain = chain
        self._grammar = capi.llama_sampler_init_grammar(
            vocab, grammar._grammar.encode(), grammar._root.encode()
        )
        if not self._grammar:
            raise ValueError("not a valid GBNF grammar with a root rule")
        self._greedy = greedy
        self._n_vocab = n_vocab
        self._ids = np.arange(n_vocab, dtype=np.intc)
        self._candidates = np.zeros(n_vocab, dtype=_TOKEN_DATA)
        self._shortlist = np.zeros(self.SHORTLIST, dtype=_TOKEN_DATA)
        self._chosen = np.zeros(1, dtype=_TOKEN_DATA)

    def sample(self, ctx: LlamaContext, idx: int = -1) -> int:
        """The next token from the logits of batch position ``idx``, allowed by the grammar."""
        pointer = capi.llama_get_logits_ith(ctx.ctx, idx)
        logits = np.ctypeslib.as_array(pointer, shape=(self._n_vocab,))
        # A greedy pick is the first of equals, as llama.cpp's greedy sampler makes it.
        token = int(np.argmax(logits)) if self._greedy else self._pick(logits, constrained=False)
        self._chosen[0] = (token, logits[token], 0.0)
        _apply(self._grammar, self._chosen)
        if np.isneginf(self._chosen["logit"][0]):
            token = self._best_allowed(logits) if self._greedy else -1
            if token < 0:
                token = self._pick(logits, constrained=True)
        capi.llama_sampler_accept(self._grammar, token)
        capi.llama_sampler_accept(self._chain.sampler, token)
        return token

    def _best_allowed(self, logits: npt.NDArray[np.single]) -> int:
        """The most likely allowed token (the first of equals) if it is among the
        shortlist and more likely than every token left out of it; else -1."""
        top = np.argpartition(logits, -self.SHORTLIST)[-self.SHORTLIST :]
        shortlist = self._shortlist
        shortlist["id"] = top
        shortlist["logit"] = logits[top]
        shortlist["p"] = 0.0
        floor = shortlist["logit"].min()  # no token left out is more likely than this
        _apply(self._grammar, shortlist)
        allowed = shortlist["logit"]
        best = allowed.max()
        if not best > floor:
            return -1
        return int(shortlist["id"][allowed == best].min())

    def close(self) -> None:
        """Free the grammar sampler and the chain."""
        if self._grammar:
            capi.llama_sampler_free(self._grammar)
            self._grammar = None
        self._chain.close()  # type: ignore[no-untyped-call]

    def __del__(self) -> None:
        self.close()

    def _pick(self, logits: npt.NDArray[np.single], *, constrained: bool) -> int:
        candidates = self._candidates
        candidates["id"] = self._ids  # samplers may have sorted the array in place
        candidates["logit"] = logits
        candidates["p"] = 0.0
        if constrained:
            _apply(self._grammar, candidates)
        return _apply(self._chain.sampler, candidates)


def _apply(sampler: Any, candidates: npt.NDArray[Any]) -> int:
    """Run ``sampler`` over ``candidates`` in place; the id it selected, or -1."""
    array = capi.llama_token_data_array(
        data=candidates.ctypes.data_as(capi.llama_token_data_p),
        size=len(candidates),
        selected=-1,
        sorted=False,
    )
    capi.llama_sampler_apply(sampler, ctypes.byref(array))
    return -1 if array.selected < 0 else int(array.data[array.selected].id)


class PrefixReusingLlama(Llama):
    """A ``Llama`` that reuses whole prompt batches evaluated before, and samples
    under a grammar with :class:`GrammarLastSampler`.

    The KV cache holds the last prompt. Before a prompt that does not share its
    batches overwrites it, those batches are copied out in memory (llama.cpp's
    sequence state), up to ``snapshot_bytes`` of copies, least recently used
    dropped. With a ``store``, prefixes also outlive the process: a prompt whose
    batches no stored copy mostly covers is stored, and a stored copy that a new
    prompt shares mostly, but not wholly, is cut to the shared part (what a prompt
    function's calls have in common: its few-shot prefix). A prompt starts from
    whichever holds most of its leading batches.

    It prints nothing on stdout or stderr, and leaves both alone: llama.cpp's log goes to
    logging, llama-cpp-python's notes are off (:attr:`verbose`, not a parameter here).
    """

    def __init__(
        self,
        *args: Any,
        snapshot_bytes: int = 0,
        store: PromptStore | None = None,
        **kwargs: Any,
    ):
        route_native_log()
        # ``verbose=True`` sets llama-cpp-python's logger to DEBUG, and its Gemma chat
        # format logs each system message there: the application's handlers would show it.
        own_logger = logging.getLogger("llama-cpp-python")
        level = own_logger.level
        try:
            super().__init__(*args, verbose=True, **kwargs)
        finally:
            own_logger.setLevel(level)
        self._snapshot_bytes = snapshot_bytes
        self._snapshots: OrderedDict[tuple[int, ...], ctypes.Array[ctypes.c_uint8]] = OrderedDict()
        self._store = store
        self._last_prompt: list[int] = []
        self.reused_tokens = 0
        """Prompt tokens the last request took from the cache or a copy, not evaluated."""
        self.token_hook: Callable[[int], object] | None = None
        """Called with each token generated, as it is (a streamed reply's text)."""

    @property
    def verbose(self) -> bool:
        """Whether llama-cpp-python prints notes of its own (system info, metadata, state
        saves) on ``sys.stderr``: never once the model file is read.

        It reads True until then, when llama-cpp-python prints nothing: with False, its
        loader points file descriptors 1 and 2 at ``/dev/null`` for the whole process
        while it reads, and every other thread's output is lost. llama.cpp's own log
        goes to logging either way (:func:`route_native_log`).
        """
        return "_model" not in vars(self)

    @verbose.setter
    def verbose(self, value: bool) -> None:
        """Where ``Llama.__init__`` stores its ``verbose`` argument, which this class sets."""

    def generate(  # type: ignore[override]
        self, tokens: Sequence[int], **options: Any
    ) -> Generator[int, Sequence[int] | None, None]:
        """``Llama.generate``, evaluating only prompt batches that neither cache nor copy holds."""
        prompt = list(tokens)
        held = self._reuse(prompt)
        if self._store is not None:
            held = self._from_store(prompt, self._store, held)
        self.n_tokens = self.reused_tokens = held
        self._last_prompt = prompt
        if self._store is not None:
            self.n_tokens = self._into_store(prompt, self._store, held)
        generated = super().generate(prompt, **options)
        return generated if self.token_hook is None else _told(generated, self.token_hook)

    def forget_prompts(self, *, stored: bool = True) -> None:
        """Drop the cache's prompt, the copies in memory and, if ``stored``, those on disk:
        the next prompt is evaluated in full (without ``stored``: as in a new process)."""
        self._snapshots.clear()
        if stored and self._store is not None:
            for tokens in self._store.prefixes():
                self._store.drop(tokens)
        self.reset()  # type: ignore[no-untyped-call]

    def snapshot_count(self) -> int:
        """How many prompt prefixes are kept as copies in memory beside the one in the cache."""
        return len(self._snapshots)

    def _reuse(self, prompt: list[int]) -> int:
        """Make the cache hold most of ``prompt``'s leading batches from itself or a copy
        in memory; how many tokens it holds."""
        held = self._whole_batches(_shared(self._last_prompt[: self.n_tokens], prompt))
        cached = self._whole_batches(min(len(self._last_prompt), self.n_tokens))
        if held < cached:
            self._keep_copy(tuple(self._last_prompt[:cached]))
        best, restorable = self._closest(self._snapshots, prompt)
        if restorable > held:
            self._snapshots.move_to_end(best)
            held = restorable if self._restore(best, self._snapshots[best]) else 0
        return held

    def _from_store(self, prompt: list[int], store: PromptStore, held: int) -> int:
        """Restore ``prompt``'s leading batches from ``store`` when it has more of them than
        the ``held`` ones; how many tokens the cache holds then, alone."""
        self._ctx.kv_cache_seq_rm(0, held, -1)
        best, shared = self._closest(store.prefixes(), prompt)
        if shared <= held:
            return held
        state = store.load(best)
        if state is not None and self._restore(best, _buffer(state)):
            self._ctx.kv_cache_seq_rm(0, shared, -1)
            return shared
        store.drop(best)
        return held if state is None else 0  # a refused state may have cleared the cache

    def _into_store(self, prompt: list[int], store: PromptStore, held: int) -> int:
        """Store what ``prompt`` should leave for later processes (the cache holds its first
        ``held`` tokens alone); how many tokens the cache holds then."""
        best, shared = self._closest(store.prefixes(), prompt)
        whole = self._whole_batches(len(prompt) - 1)
        if held == shared < len(best) <= shared * 2:  # mostly shared: keep just the shared part
            store.save(tuple(prompt[:shared]), bytes(self._state()))
            store.drop(best)
        elif shared * 2 < whole:  # no copy covers most of this prompt: store its batches
            self.eval(prompt[held:whole])
            store.save(tuple(prompt[:whole]), bytes(self._state()))
            return whole
        return held

    def _closest(
        self, copies: Iterable[tuple[int, ...]], prompt: list[int]
    ) -> tuple[tuple[int, ...], int]:
        """Which of ``copies`` shares most of ``prompt`` (``()`` if none), and how many of
        its tokens, in whole batches."""
        best = max(copies, key=lambda kept: _shared(kept, prompt), default=())
        return best, self._whole_batches(_shared(best, prompt))

    def _whole_batches(self, count: int) -> int:
        return count - count % self.n_batch

    def _state(self) -> ctypes.Array[ctypes.c_uint8]:
        """The cache's sequence state: its tokens' KV rows."""
        size: int = capi.llama_state_seq_get_size(self._ctx.ctx, 0)
        state = (ctypes.c_uint8 * size)()
        capi.llama_state_seq_get_data(self._ctx.ctx, state, size, 0)
        return state

    def _keep_copy(self, tokens: tuple[int, ...]) -> None:
        if tokens in self._snapshots:
            self._snapshots.move_to_end(tokens)
            return
        if self._snapshot_bytes <= 0:
            return
        self._ctx.kv_cache_seq_rm(0, len(tokens), -1)
        self.n_tokens = len(tokens)
        if capi.llama_state_seq_get_size(self._ctx.ctx, 0) > self._snapshot_bytes:
            return
        self._snapshots[tokens] = self._state()
        while sum(len(kept) for kept in self._snapshots.values()) > self._snapshot_bytes:
            self._snapshots.popitem(last=False)

    def _restore(self, tokens: tuple[int, ...], state: ctypes.Array[ctypes.c_uint8]) -> bool:
        """Make the cache hold ``tokens`` from their ``state``; False if llama.cpp refuses it."""
        if not capi.llama_state_seq_set_data(self._ctx.ctx, state, len(state), 0):
            return False
        self.input_ids[: len(tokens)] = tokens
        self.n_tokens = len(tokens)
        return True

    def _init_sampler(self, *args: Any, **kwargs: Any) -> Any:
        grammar: LlamaGrammar | None = kwargs.pop("grammar", None)
        chain = super()._init_sampler(*args, **kwargs)
        if grammar is None:
            return chain
        greedy = kwargs.get("temp") == 0.0 and _neutral(kwargs)
        return GrammarLastSampler(chain, self._model.vocab, grammar, self._n_vocab, greedy=greedy)


def _neutral(options: dict[str, Any]) -> bool:
    """Whether a chain's options leave the logits as they are before its pick."""
    return (
        options.get("repeat_penalty", 1.0) == 1.0
        and options.get("frequency_penalty", 0.0) == 0.0
        and options.get("presence_penalty", 0.0) == 0.0
        and options.get("logits_processor") is None
    )


def _buffer(data: bytes) -> ctypes.Array[ctypes.c_uint8]:
    return (ctypes.c_uint8 * len(data)).from_buffer_copy(data)


def _shared(kept: Sequence[int], prompt: Sequence[int]) -> int:
    """How many leading tokens ``kept`` shares with ``prompt``, leaving its last one out
    (the last prompt token is always evaluated, for the logits of the first pick)."""
    shared = 0
    for old, new in zip(kept, prompt[:-1], strict=False):
        if old != new:
            break
        shared += 1
    return shared


def _told(
    tokens: Generator[int, Sequence[int] | None, None], hook: Callable[[int], object]
) -> Generator[int, Sequence[int] | None, None]:
    """``tokens``, each given to ``hook`` as it is generated."""
    for token in tokens:
        hook(token)
        yield token
