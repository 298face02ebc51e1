"""Handing freed memory back to the system once big requests are done.

glibc's allocator keeps the memory of freed objects in its arenas for reuse; after a burst of
4 MB batches the process would keep its peak size for good. ``malloc_trim`` returns the free
pages. It walks the heap, so it runs once the process is idle again (no request bytes in flight),
at most once a second, and only after enough bytes were released to make it worth it.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import time
from collections.abc import Callable

log = logging.getLogger("gateway.memory")
WORTH_TRIMMING_BYTES = 8 * 1024 * 1024
AT_MOST_EVERY_SECONDS = 1.0


def _load_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        trim: Callable[[int], int] | None = libc.malloc_trim if libc is not None else None
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim with
        trim = None
    return trim


class MemoryTrim:
    def __init__(self) -> None:
        self._trim = _load_trim()
        self._released = 0
        self._last = 0.0
        self._pending: asyncio.TimerHandle | None = None

    def released(self, size: int, *, idle: bool) -> None:
        """``size`` request bytes were let go; trim soon when the process is idle and it is worth it."""
        self._released += size
        if not idle or self._trim is None or self._released < WORTH_TRIMMING_BYTES or self._pending:
            return
        delay = max(0.0, self._last + AT_MOST_EVERY_SECONDS - time.monotonic())
        self._pending = asyncio.get_running_loop().call_later(delay, self._run)

    def _run(self) -> None:
        self._pending = None
        self._released = 0
        self._last = time.monotonic()
        assert self._trim is not None
        self._trim(0)
