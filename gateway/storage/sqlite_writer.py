"""The durable log's group commit on SQLite, in one thread hop.

Through the async engine each statement of a commit costs several hops between the event loop
and aiosqlite's thread, and SQLAlchemy binds parameters row by row in Python. Here one function
runs the whole transaction on a thread of its own with the plain ``sqlite3`` module, whose
``executemany`` binds the rows in C. The SQL is compiled once from the same table definitions.
"""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.sql import ClauseElement

from gateway.storage.database import Database
from gateway.storage.log_files import LogFiles, probe
from gateway.storage.log_health import LogHealth
from gateway.storage.tables import log_table, rejection_table

LOG_COLUMNS = ["source", "received_at", "event", "raw"]
REJECTION_COLUMNS = ["source", "received_at", "item_index", "code", "reason", "field", "payload"]


def _sql(statement: ClauseElement, columns: list[str] | None = None) -> str:
    return str(statement.compile(dialect=sqlite.dialect(paramstyle="named"), column_keys=columns))


class SqliteWriter:
    """Commits a group on a dedicated thread; ``commit`` returns the log's highest seq afterwards."""

    def __init__(self, database: Database, stats_upsert: ClauseElement, health: LogHealth) -> None:
        self.database = database
        assert database.path is not None
        self.files = LogFiles(database.path, health)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="durable-log")
        self._conn: sqlite3.Connection | None = None
        self._insert_log = _sql(log_table.insert(), LOG_COLUMNS)
        self._insert_rejection = _sql(rejection_table.insert(), REJECTION_COLUMNS)
        self._upsert_stats = _sql(stats_upsert)
        self._max_seq = _sql(select(func.max(log_table.c.seq)))

    async def commit(self, rows: list[dict[str, Any]], rejections: list[dict[str, Any]],
                     stats: list[dict[str, Any]]) -> int | None:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._commit, rows, rejections, stats)

    def _commit(self, rows: list[dict[str, Any]], rejections: list[dict[str, Any]],
                stats: list[dict[str, Any]]) -> int | None:
        if self._conn is None:
            self._conn = self.database.connect_sqlite()
        conn = self._conn
        self.files.verify(conn)  # a vanished or replaced WAL/database: 503, never a 200 on it
        # IMMEDIATE takes the write lock up front: waiting for it (busy_timeout) beats failing to
        # upgrade a read lock half-way through when another process writes too.
        conn.execute("BEGIN IMMEDIATE")
        try:
            if rows:
                conn.executemany(self._insert_log, rows)
            if rejections:
                conn.executemany(self._insert_rejection, rejections)
            for values in stats:
                conn.execute(self._upsert_stats, values)
            head = conn.execute(self._max_seq).fetchone()[0] if rows else None
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self.files.committed()
        return None if head is None else int(head)

    async def probe(self) -> str | None:
        """Why the log cannot write now, or None (for /ready once a commit has failed)."""
        def run() -> str | None:
            if self._conn is None:
                self._conn = self.database.connect_sqlite()
            return probe(self._conn, self.files)

        return await asyncio.get_running_loop().run_in_executor(self._executor, run)

    async def close(self) -> None:
        def close() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await asyncio.get_running_loop().run_in_executor(self._executor, close)
        self._executor.shutdown(wait=False)
