"""The ``sqlite`` sink: each batch of canonical events becomes rows of ``events``, in one transaction."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import orjson
from sqlalchemy.sql.dml import Insert

from gateway.sinks import Batch, SinkContext
from gateway.storage.database import Database
from plugins.sqlite_sink.rows import replace_nul, to_row
from plugins.sqlite_sink.schema import insert_ignoring_duplicates, prepare
from plugins.sqlite_sink.settings import CONFIG_SCHEMA
from plugins.sqlite_sink.table import EVENTS

__all__ = ["CONFIG_SCHEMA", "SqliteSink"]


class SqliteSink:
    """Writes canonical events to an ``events`` table; idempotent on ``message_id``.

    The engine's delivery is at-least-once, so a redelivered batch must add nothing: each
    insert skips a ``message_id`` already there (also one repeated inside the same batch).
    """

    def __init__(self, url: str, context: SinkContext) -> None:
        self.url = url
        self.context = context
        self.database: Database | None = None
        self._insert: Insert | None = None
        self._replace_nul = False

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
        database = Database(self.url, base_dir=self.context.config_dir)
        self.database = database
        try:
            version = await prepare(database, self.where)
        except BaseException:
            await self.stop()
            raise
        dialect = database.engine.dialect.name
        self._insert = insert_ignoring_duplicates(EVENTS, ["message_id"], dialect)
        self._replace_nul = dialect == "postgresql"
        self.context.logger.info("%s ready (events schema version %d)", self.where, version)

    async def deliver(self, batch: Batch) -> None:
        if self.database is None or self._insert is None:
            await self.start()
        assert self.database is not None and self._insert is not None
        if not batch.raw:
            return
        rows = [to_row(event, raw) for event, raw in self._events(batch)]
        # One executemany in one transaction: a batch is all in, or (on error) all retried.
        async with self.database.engine.begin() as conn:
            await conn.execute(self._insert, rows)

    def _events(self, batch: Batch) -> Iterator[tuple[Mapping[str, Any], bytes]]:
        event: Mapping[str, Any]
        for event, raw in zip(batch.events, batch.raw, strict=True):
            # JSON always escapes U+0000, so the bytes tell cheaply which rare event needs it.
            if self._replace_nul and b"\\u0000" in raw:
                event = replace_nul(orjson.loads(raw))  # a fresh copy: batch.events stays as given
            yield event, raw

    async def stop(self) -> None:
        database, self.database, self._insert = self.database, None, None
        if database is not None:
            await database.dispose()
