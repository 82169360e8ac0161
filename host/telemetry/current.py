"""The current span, read and set as OpenTelemetry's own API does, at a fraction of its cost.

``trace.get_current_span()`` and ``attach(trace.set_span_in_context(span))`` go
through several calls each (context lookup, copy, the runtime context's
wrapper); the host does both around every span it makes. With OpenTelemetry's
default runtime context (a ``ContextVar`` holding a ``Context``), these
functions read and set that same variable directly, so the contexts they make
are the ones the API would: code that calls ``trace.get_current_span()`` inside a
step sees the step's span. Another runtime context (``OTEL_PYTHON_CONTEXT``) gets
the API's own calls.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING

from opentelemetry import context as _context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext
from opentelemetry.trace import INVALID_SPAN, Span
from opentelemetry.trace.propagation import _SPAN_KEY

if TYPE_CHECKING:
    from collections.abc import Callable

_log = logging.getLogger("opentelemetry.context")  # where the API reports a failed detach


def _variable() -> ContextVar[Context] | None:
    """The ``ContextVar`` OpenTelemetry keeps the current context in, if it is the default's."""
    runtime = getattr(_context, "_RUNTIME_CONTEXT", None)
    variable = getattr(runtime, "_current_context", None)
    if type(runtime) is ContextVarsRuntimeContext and isinstance(variable, ContextVar):
        return variable
    return None


_CURRENT = _variable()
_put = dict.__setitem__


_SPANS: set[type] = set()
"""Classes found to be spans (an ``isinstance`` check of the ``Span`` ABC costs more)."""


def _current_span() -> Span:
    """``trace.get_current_span()``."""
    span = _CURRENT.get().get(_SPAN_KEY)  # type: ignore[union-attr]  # set when chosen
    kind = type(span)
    if kind in _SPANS:
        return span  # type: ignore[return-value]  # a Span: its class is one
    if isinstance(span, Span):
        _SPANS.add(kind)
        return span
    return INVALID_SPAN


def _enter(span: Span) -> Token[Context]:
    """``attach(trace.set_span_in_context(span))``: ``span`` current until :func:`leave`."""
    variable: ContextVar[Context] = _CURRENT  # type: ignore[assignment]  # set when chosen
    context = Context(variable.get())
    _put(context, _SPAN_KEY, span)  # a Context refuses item assignment; this one is new
    return variable.set(context)


def _leave(token: Token[Context]) -> None:
    """``detach(token)``: the context before :func:`enter` made ``token``, current again."""
    try:
        _CURRENT.reset(token)  # type: ignore[union-attr]  # set when chosen
    except Exception:  # as the API: a token of another context is logged, not raised
        _log.exception("Failed to detach context")


def _api_enter(span: Span) -> Token[Context]:
    return _context.attach(trace.set_span_in_context(span))


current_span: Callable[[], Span] = trace.get_current_span if _CURRENT is None else _current_span
"""The current span (``INVALID_SPAN`` when none is)."""

enter: Callable[[Span], Token[Context]] = _api_enter if _CURRENT is None else _enter
"""Make a span current; returns the token :data:`leave` takes."""

leave: Callable[[Token[Context]], None] = _context.detach if _CURRENT is None else _leave
"""Make the context before :data:`enter` current again."""
