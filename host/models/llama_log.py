"""llama.cpp's log, ggml's included, as ``agent_host`` DEBUG records instead of stderr lines.

Without a callback llama.cpp writes its log (the model file's metadata, tensors,
KV-cache notes, ggml's backend lines) to file descriptor 2, and
llama-cpp-python's callback prints it on ``sys.stderr``. Hiding it by pointing
either at ``/dev/null`` would hide every other thread's output with it, since
both belong to the whole process. :func:`route_native_log` hands it to logging
instead: nothing shows unless ``agent_host`` logs at DEBUG (``--debug``).
"""

from __future__ import annotations

import ctypes
import logging

import llama_cpp

_log = logging.getLogger("agent_host")

_CONTINUED = 5
"""ggml's level for a piece that continues the line before (``GGML_LOG_LEVEL_CONT``)."""

_line: list[str] = []
"""The pieces of a line logged in several calls, such as a row of progress dots."""


def _to_logging(level: int, text: bytes | None, user_data: int | None) -> None:
    """One call of llama.cpp's log: a line, or a piece of one."""
    if text is None or not _log.isEnabledFor(logging.DEBUG):
        return
    if level != _CONTINUED:
        _end_line()  # a row of dots ends where the next line starts, with or without a newline
    _line.append(text.decode("utf-8", "replace"))
    if _line[-1].endswith("\n"):
        _end_line()


def _end_line() -> None:
    line = "".join(_line).rstrip()
    _line.clear()
    if line:
        _log.debug("llama.cpp: %s", line)


_CALLBACK = llama_cpp.llama_log_callback(_to_logging)
"""Kept for the life of the process: llama.cpp holds only the function's address."""


def route_native_log() -> None:
    """Send llama.cpp's and ggml's log to logging from now on, process-wide.

    Called before each model is read rather than on import, so that a callback
    set since (``llama_cpp``'s own, on its import) does not bring the lines back.
    """
    llama_cpp.llama_log_set(_CALLBACK, ctypes.c_void_p(0))
