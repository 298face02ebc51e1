"""The durable log's group commit on SQLite, in one thread hop.

Through the async engine each statement of a commit costs several hops between the event loop
and aiosqlite's thread, and SQLAlchemy binds parameters row by row in Python. Here one function
runs the whole transaction on a thread of its own with the plain ``sqlite3`` module, which binds
the rows in C, many rows to a statement (``multi_row``). The SQL is compiled once from the same
table definitions.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.sql import ClauseElement

from gateway.storage.database import Database
from gateway.storage.log_files import LogFiles, probe
from gateway.storage.log_health import LogHealth
from gateway.storage.multi_row import MultiRowInsert
from gateway.storage.sqlite_thread import SqliteThread
from gateway.storage.tables import log_table, partition_table, rejection_table

LOG_COLUMNS = ["source", "received_at", "event", "raw", "partition"]
REJECTION_COLUMNS = ["source", "received_at", "item_index", "code", "reason", "field", "payload"]


def _sql(statement: ClauseElement, columns: list[str] | None = None) -> str:
    return str(statement.compile(dialect=sqlite.dialect(paramstyle="named"), column_keys=columns))


class SqliteWriter:
    """Commits a group on a dedicated thread; ``commit`` returns the log's highest seq afterwards."""

    def __init__(self, database: Database, stats_upsert: ClauseElement, health: LogHealth) -> None:
        self.database = database
        assert database.path is not None
        self.files = LogFiles(database.path, health)
        self._thread = SqliteThread(database, "durable-log")
        self._insert_log = MultiRowInsert(log_table.name, LOG_COLUMNS)
        self._log_values = itemgetter(*LOG_COLUMNS)
        self._insert_rejection = _sql(rejection_table.insert(), REJECTION_COLUMNS)
        self._upsert_stats = _sql(stats_upsert)
        self._max_seq = _sql(select(func.max(log_table.c.seq)))
        self._set_head = _sql(update(partition_table).where(partition_table.c.partition == bindparam("p"))
                              .values(head=bindparam("h")))

    async def commit(self, partition: int, rows: list[dict[str, Any]], rejections: list[dict[str, Any]],
                     stats: list[dict[str, Any]]) -> int | None:
        return await self._thread.run(self._commit, partition, rows, rejections, stats)

    def _commit(self, partition: int, rows: list[dict[str, Any]], rejections: list[dict[str, Any]],
                stats: list[dict[str, Any]]) -> int | None:
        conn = self._thread.connection()
        self.files.verify(conn)  # a vanished or replaced WAL/database: 503, never a 200 on it
        # IMMEDIATE takes the write lock up front: waiting for it (busy_timeout) beats failing to
        # upgrade a read lock half-way through when another process writes too.
        conn.execute("BEGIN IMMEDIATE")
        try:
            if rows:
                self._insert_log.run(conn, map(self._log_values, rows))
            if rejections:
                conn.executemany(self._insert_rejection, rejections)
            for values in stats:
                conn.execute(self._upsert_stats, values)
            head = conn.execute(self._max_seq).fetchone()[0] if rows else None
            if head is not None:
                conn.execute(self._set_head, {"p": partition, "h": head})
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self.files.committed()
        return None if head is None else int(head)

    async def probe(self) -> str | None:
        """Why the log cannot write now, or None (for /ready once a commit has failed)."""
        return await self._thread.run(lambda: probe(self._thread.connection(), self.files))

    async def close(self) -> None:
        await self._thread.close()
