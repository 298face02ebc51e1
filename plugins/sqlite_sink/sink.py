"""The ``sqlite`` sink: each batch of canonical events becomes rows of ``events``, in one transaction."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
from sqlalchemy.sql.dml import Insert

from gateway import Batch, Database, SinkContext

from .rows import COLUMNS, SQLITE, replace_nul, row_values, to_row
from .schema import insert_ignoring_duplicates, prepare
from .settings import CONFIG_SCHEMA
from .table import EVENTS, UNIQUE_KEY

__all__ = ["CONFIG_SCHEMA", "SqliteSink"]

# For a file the sink creates. Each commit writes its dirty pages to the WAL one frame (two writes)
# at a time and a checkpoint copies them again: with 4 KiB pages and client-made message ids (random
# keys in the unique index) that was four writes and three reads per row, half the sink's CPU in the
# kernel. 16 KiB pages: 50,000 SDK-style events 32-36 -> 25-28 us of CPU each (bench row 4c).
PAGE_SIZE = 16384


class SqliteSink:
    """Writes canonical events to an ``events`` table; idempotent on (source id, message id).

    The engine's delivery is at-least-once, so a redelivered batch must add nothing: each insert
    skips an id its source already stored (also one repeated inside the same batch), and the batch
    says how many it skipped (``batch.duplicates``), which the core counts apart from deliveries.

    On SQLite a batch is one ``executemany`` of plain tuples on a ``sqlite3`` connection of the
    sink's own, on a thread of its own (the event loop never waits for the disk); on PostgreSQL it
    goes through SQLAlchemy Core, the statement compiled once.
    """

    def __init__(self, url: str, context: SinkContext) -> None:
        self.url = url
        self.context = context
        self.database: Database | None = None
        self._insert: Insert | None = None
        self._replace_nul = False
        self._sqlite: sqlite3.Connection | None = None
        self._thread: ThreadPoolExecutor | None = None

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], context: SinkContext) -> SqliteSink:
        return cls(settings["url"], context)

    @property
    def where(self) -> str:
        database = self.database
        place = database.path if database is not None and database.path else "its database"
        return f"sink {self.context.name!r}: {place}"

    async def start(self) -> None:
        # synchronous=FULL (the Database default) matters: the core advances this sink's cursor
        # once deliver() returns, so a commit lost to a power cut would be an event lost here.
        database = Database(self.url, base_dir=self.context.config_dir, page_size=PAGE_SIZE)
        self.database = database
        try:
            version = await prepare(database, self.where)
            dialect = database.engine.dialect.name
            if database.path is not None:
                self._thread = ThreadPoolExecutor(1, thread_name_prefix=f"sink-{self.context.name}")
                self._sqlite = await asyncio.get_running_loop().run_in_executor(self._thread,
                                                                                database.connect_sqlite)
            else:
                self._insert = insert_ignoring_duplicates(EVENTS, UNIQUE_KEY, dialect).returning(EVENTS.c.id)
                self._replace_nul = dialect == "postgresql"
        except BaseException:
            await self.stop()
            raise
        self.context.logger.info("%s ready (events schema version %d)", self.where, version)

    async def deliver(self, batch: Batch) -> None:
        if self.database is None:
            await self.start()
        if not batch.raw:
            return
        if self._sqlite is not None:
            loop = asyncio.get_running_loop()
            stored = await loop.run_in_executor(self._thread, self._write_sqlite, batch)
        else:
            stored = await self._write_engine(batch)
        batch.duplicates = len(batch) - stored

    def _write_sqlite(self, batch: Batch) -> int:
        """One transaction on the sink's thread; the number of rows it added."""
        conn = self._sqlite
        assert conn is not None
        # The events are parsed here, off the loop, unless the core already did (an events filter).
        events = batch.__dict__.get("events") or map(orjson.loads, batch.raw)
        values = [row_values(event, raw, SQLITE) for event, raw in zip(events, batch.raw, strict=True)]
        conn.execute("BEGIN IMMEDIATE")
        try:
            added = conn.executemany(INSERT_SQLITE, values).rowcount
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return added

    async def _write_engine(self, batch: Batch) -> int:
        assert self.database is not None and self._insert is not None
        rows = [to_row(event, raw) for event, raw in self._events(batch)]
        # One executemany in one transaction: a batch is all in, or (on error) all retried.
        async with self.database.engine.begin() as conn:
            result = await conn.execute(self._insert, rows)
            return len(result.all())  # RETURNING gives the rows added, not the ones skipped

    def _events(self, batch: Batch) -> Iterator[tuple[Mapping[str, Any], bytes]]:
        event: Mapping[str, Any]
        for event, raw in zip(batch.events, batch.raw, strict=True):
            # JSON always escapes U+0000, so the bytes tell cheaply which rare event needs it.
            if self._replace_nul and b"\\u0000" in raw:
                event = replace_nul(orjson.loads(raw))  # a fresh copy: batch.events stays as given
            yield event, raw

    async def stop(self) -> None:
        database, self.database, self._insert = self.database, None, None
        conn, self._sqlite = self._sqlite, None
        thread, self._thread = self._thread, None
        if thread is not None:
            if conn is not None:
                await asyncio.get_running_loop().run_in_executor(thread, conn.close)
            thread.shutdown(wait=True)
        if database is not None:
            await database.dispose()


_NAMES = ", ".join(COLUMNS)
INSERT_SQLITE = (f"INSERT INTO {EVENTS.name} ({_NAMES}) VALUES ({', '.join('?' * len(COLUMNS))}) "
                 f"ON CONFLICT ({', '.join(UNIQUE_KEY)}) DO NOTHING")
