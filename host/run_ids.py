"""Run ids: 128 random bits from the operating system's generator, as ``uuid4().hex`` has.

The bytes are drawn :data:`POOL` runs at a time. Each ``os.urandom`` call lets go of
the interpreter lock, and any thread waiting for it (the span exporter's, the run
store's writer) wakes to no purpose: drawn once per run, that cost more CPU than the
draw itself.
"""

from __future__ import annotations

import os
import threading

POOL = 256
"""Run ids drawn from one ``os.urandom`` call."""

_ID_BYTES = 16
_lock = threading.Lock()
_pool = b""
_taken = 0


def new_run_id() -> str:
    """A fresh run id: 32 hex digits of OS randomness, never handed out twice."""
    global _pool, _taken
    with _lock:
        if _taken == len(_pool):
            _pool, _taken = os.urandom(_ID_BYTES * POOL), 0
        start, _taken = _taken, _taken + _ID_BYTES
        return _pool[start:_taken].hex()
