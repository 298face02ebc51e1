"""Many rows in few SQLite statements: ``INSERT ... VALUES (...), (...), ...``.

``executemany`` steps one statement per row, and the ``sqlite3`` module lets go of the GIL for
each step and takes it back after. With the event loop busy on the process's other thread, every
take-back waits up to the interpreter's switch interval (5 ms): a 1,600-row commit measured
4.6-5.5 s that way, against 15 ms with the loop idle. A statement of ``CHUNK`` rows takes the GIL
back once per ``CHUNK`` rows (the same commit: 123-127 ms with the loop busy, 12-13 ms idle).

The durable log's commits use it (its thread shares the GIL with the ingest event loop, which is
busy whenever requests come). The SQLite sink does not: its delivery loop is mostly idle, and into
its 22-column table with five indexes and ``ON CONFLICT DO NOTHING`` the long statements cost 11 %
more CPU per event than ``executemany`` (43.5 against 39.0 µs, five runs each).

Statements come in a fixed set of sizes (``CHUNK`` and the powers of two below it), so each
connection's statement cache holds them all and nothing is compiled per commit.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from itertools import chain
from typing import Any

CHUNK = 64
# SQLite before 3.32 binds at most 999 values a statement: wide rows go in fewer at a time.
MAX_VALUES = 999


class MultiRowInsert:
    """``INSERT INTO table (columns) VALUES ... [tail]`` for any number of rows, in few statements."""

    def __init__(self, table: str, columns: Sequence[str], tail: str = "") -> None:
        self.width = len(columns)
        self.chunk = _sizes(max(1, min(CHUNK, MAX_VALUES // self.width)))[0]
        one = "(" + ", ".join("?" * self.width) + ")"
        head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
        suffix = f" {tail}" if tail else ""
        self._sql = {size: head + ", ".join([one] * size) + suffix for size in _sizes(self.chunk)}

    def run(self, conn: sqlite3.Connection, rows: Iterable[Sequence[Any]]) -> int:
        """Insert ``rows`` (each a sequence of ``width`` values); the number of rows it changed
        (fewer than given when the statement's tail skips some, as ``ON CONFLICT DO NOTHING`` does)."""
        flat = list(chain.from_iterable(rows))
        if len(flat) % self.width:
            raise ValueError(f"{len(flat)} values do not make rows of {self.width}")
        before = conn.total_changes
        step = self.chunk * self.width
        full = len(flat) - len(flat) % step
        if full:
            conn.executemany(self._sql[self.chunk], (flat[i:i + step] for i in range(0, full, step)))
        start, left = full, (len(flat) - full) // self.width
        for size in _sizes(self.chunk // 2):  # the rest, largest part first: at most log2(chunk) statements
            if left >= size:
                conn.execute(self._sql[size], flat[start:start + size * self.width])
                start += size * self.width
                left -= size
        return conn.total_changes - before


def _sizes(largest: int) -> list[int]:
    """The powers of two up to ``largest``, largest first."""
    size = 1 << (largest.bit_length() - 1) if largest >= 1 else 0
    sizes = []
    while size >= 1:
        sizes.append(size)
        size //= 2
    return sizes
