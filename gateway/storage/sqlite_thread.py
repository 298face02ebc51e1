"""One plain ``sqlite3`` connection to a SQLite file, used only from a thread of its own.

The log's writer and delivery's reader each keep one: the event loop never waits on the file, and
``sqlite3`` binds and builds rows in C instead of going through the async engine.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from gateway.storage.database import Database

T = TypeVar("T")


class SqliteThread:
    def __init__(self, database: Database, name: str) -> None:
        self.database = database
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=name)  # its thread starts on first use
        self._conn: sqlite3.Connection | None = None

    async def run(self, work: Callable[..., T], *args: object) -> T:
        """``work(*args)`` on the thread; it reaches the file through ``connection()``."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, work, *args)

    def connection(self) -> sqlite3.Connection:
        """The connection, opened on first use (call from ``work`` only)."""
        if self._conn is None:
            self._conn = self.database.connect_sqlite()
        return self._conn

    def drop(self) -> None:
        """Close the connection (from ``work``, after a failure): the next use opens a fresh one."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    async def close(self) -> None:
        if self._conn is not None:  # nothing runs on the thread any more: closing is the last use
            await self.run(self.drop)
        self._executor.shutdown(wait=False)
