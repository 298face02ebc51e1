"""Reads and small writes on the log's tables: a partition's events, the heads, pruning, runtime sinks."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import orjson
from sqlalchemy import bindparam, delete, select
from sqlalchemy.dialects import sqlite

from gateway.storage.database import Database, dialect_insert
from gateway.storage.sqlite_thread import SqliteThread
from gateway.storage.tables import log_table, partition_table, rejection_table, runtime_sink_table

# (seq, event bytes): plain tuples, as sqlite3 makes them in C (a NamedTuple per row cost more than the read).
LogRow = tuple[int, bytes]


def _partition_rows() -> Any:
    seq, partition = log_table.c.seq, log_table.c.partition
    return select(seq, log_table.c.event).where(partition == bindparam("partition"), seq > bindparam("after")) \
        .order_by(seq).limit(bindparam("limit"))


class LogReader:
    """The log's reads. A partition's events, what delivery reads all day, come on SQLite from a plain
    ``sqlite3`` connection on a thread of the reader's own: through the async engine every row became
    a SQLAlchemy ``Row`` on aiosqlite's thread and was read back by attribute, about half of a
    delivery process's CPU when it drains a backlog (see bench/README.md)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._rows = _partition_rows()
        compiled = self._rows.compile(dialect=sqlite.dialect(paramstyle="named"))
        self._rows_sql = str(compiled)
        # SQLite's form of a bound LIMIT adds an OFFSET parameter with its own value (0).
        self._rows_fixed = {k: v for k, v in compiled.params.items() if k not in ("partition", "after", "limit")}
        self._thread = SqliteThread(database, "log-reader") if database.path is not None else None

    async def close(self) -> None:
        """Close the SQLite connection ``read`` uses."""
        if self._thread is not None:
            await self._thread.close()

    def _read_sqlite(self, values: dict[str, int]) -> list[LogRow]:
        assert self._thread is not None
        try:
            rows: list[LogRow] = self._thread.connection().execute(self._rows_sql, values).fetchall()
            return rows
        except sqlite3.Error:
            self._thread.drop()  # a connection on a file that failed under it: the next read opens a fresh one
            raise

    async def heads(self) -> dict[int, int]:
        """Every partition's highest committed seq (a commit records it under the partition's lock)."""
        async with self.database.engine.connect() as conn:
            rows = (await conn.execute(select(partition_table.c.partition, partition_table.c.head))).all()
        return {int(r.partition): int(r.head or 0) for r in rows}

    async def read(self, partition: int, after: int, limit: int) -> list[LogRow]:
        """Up to ``limit`` of the partition's events after seq ``after``, in seq order."""
        values = {"partition": partition, "after": after, "limit": limit}
        if self._thread is not None:
            return await self._thread.run(self._read_sqlite, {**self._rows_fixed, **values})
        async with self.database.engine.connect() as conn:
            return [(int(seq), event) for seq, event in (await conn.execute(self._rows, values)).all()]

    async def oldest_after(self, partition: int, after: int) -> float | None:
        """When the partition's first event after ``after`` was received (its age decides a time-cut batch)."""
        async with self.database.engine.connect() as conn:
            result = await conn.execute(
                select(log_table.c.received_at)
                .where(log_table.c.partition == partition, log_table.c.seq > after)
                .order_by(log_table.c.seq).limit(1))
            value = result.scalar()
            return float(value) if value is not None else None

    async def prune_batch(self, partition: int, floor: int | None, cutoff: float, limit: int) -> int:
        """Delete up to ``limit`` of the partition's oldest rows that every live sink has taken and that
        are older than ``cutoff``: one short transaction, so the writer never waits long on it."""
        query = select(log_table.c.seq).where(log_table.c.partition == partition,
                                              log_table.c.received_at < cutoff)
        if floor is not None:
            query = query.where(log_table.c.seq <= floor)
        query = query.order_by(log_table.c.seq).limit(limit)
        async with self.database.engine.begin() as conn:
            seqs = list((await conn.execute(query)).scalars())
            if seqs:
                await conn.execute(delete(log_table).where(log_table.c.seq.in_(seqs)))
        return len(seqs)

    async def prune_rejections(self, cutoff: float, limit: int) -> int:
        query = select(rejection_table.c.id).where(rejection_table.c.received_at < cutoff) \
            .order_by(rejection_table.c.id).limit(limit)
        async with self.database.engine.begin() as conn:
            ids = list((await conn.execute(query)).scalars())
            if ids:
                await conn.execute(delete(rejection_table).where(rejection_table.c.id.in_(ids)))
        return len(ids)


class RuntimeSinks:
    """Sinks created through an API, persisted so a restart brings them back."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def all(self) -> list[tuple[str, str, dict[str, Any]]]:
        async with self.database.engine.connect() as conn:
            rows = (await conn.execute(select(runtime_sink_table).order_by(runtime_sink_table.c.created_at))).all()
        return [(r.name, r.type, orjson.loads(r.settings)) for r in rows]

    async def save(self, name: str, type_: str, settings: dict[str, Any]) -> None:
        async with self.database.engine.begin() as conn:
            stmt = dialect_insert(self.database, runtime_sink_table).values(
                name=name, type=type_, settings=orjson.dumps(settings), created_at=time.time())
            await conn.execute(stmt.on_conflict_do_update(
                index_elements=["name"], set_={"settings": stmt.excluded.settings}))

    async def delete(self, name: str) -> None:
        async with self.database.engine.begin() as conn:
            await conn.execute(delete(runtime_sink_table).where(runtime_sink_table.c.name == name))
