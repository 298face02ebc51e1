"""Reads and small writes on the core's tables: sink cursors, log batches, dead letters, pruning."""

from __future__ import annotations

import time
from typing import Any

import orjson
from sqlalchemy import delete, select

from gateway.storage.database import Database, dialect_insert
from gateway.storage.tables import (
    cursor_table,
    dead_letter_table,
    log_table,
    rejection_table,
    runtime_sink_table,
)


class LogReader:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def cursor(self, sink: str, start: str, head: int) -> int:
        """The sink's stored cursor; a new sink starts at 0 ("beginning") or at the head ("now")."""
        async with self.database.engine.begin() as conn:
            found = (await conn.execute(select(cursor_table.c.seq).where(cursor_table.c.sink == sink))).scalar()
            if found is not None:
                return int(found)
            seq = head if start == "now" else 0
            await conn.execute(cursor_table.insert().values(sink=sink, seq=seq, updated_at=time.time()))
            return seq

    async def set_cursor(self, sink: str, seq: int) -> None:
        async with self.database.engine.begin() as conn:
            stmt = dialect_insert(self.database, cursor_table).values(sink=sink, seq=seq, updated_at=time.time())
            await conn.execute(stmt.on_conflict_do_update(
                index_elements=["sink"], set_={"seq": stmt.excluded.seq, "updated_at": stmt.excluded.updated_at}))

    async def delete_cursor(self, sink: str) -> None:
        async with self.database.engine.begin() as conn:
            await conn.execute(delete(cursor_table).where(cursor_table.c.sink == sink))

    async def read(self, after: int, limit: int) -> list[Any]:
        async with self.database.engine.connect() as conn:
            result = await conn.execute(
                select(log_table.c.seq, log_table.c.event)
                .where(log_table.c.seq > after).order_by(log_table.c.seq).limit(limit))
            return list(result.all())

    async def oldest_after(self, after: int) -> float | None:
        """When the first event after ``after`` was received (its age decides a time-cut batch)."""
        async with self.database.engine.connect() as conn:
            result = await conn.execute(
                select(log_table.c.received_at).where(log_table.c.seq > after)
                .order_by(log_table.c.seq).limit(1))
            value = result.scalar()
            return float(value) if value is not None else None

    async def dead_letter(self, sink: str, first_seq: int, last_seq: int, raw: list[bytes], error: str) -> None:
        async with self.database.engine.begin() as conn:
            await conn.execute(dead_letter_table.insert().values(
                sink=sink, first_seq=first_seq, last_seq=last_seq, events=b"[" + b",".join(raw) + b"]",
                error=error[:1000], created_at=time.time()))

    async def cursors(self) -> dict[str, int]:
        async with self.database.engine.connect() as conn:
            rows = (await conn.execute(select(cursor_table.c.sink, cursor_table.c.seq))).all()
            return {r.sink: int(r.seq) for r in rows}

    async def prune(self, retention_seconds: float, live_sinks: list[str]) -> int:
        """Delete log rows every live sink has taken that are older than the retention period."""
        cursors = await self.cursors()
        floor = min((cursors.get(s, 0) for s in live_sinks), default=None)
        cutoff = time.time() - retention_seconds
        async with self.database.engine.begin() as conn:
            stmt = delete(log_table).where(log_table.c.received_at < cutoff)
            if floor is not None:
                stmt = stmt.where(log_table.c.seq <= floor)
            removed = (await conn.execute(stmt)).rowcount or 0
            await conn.execute(delete(rejection_table).where(rejection_table.c.received_at < cutoff))
        return int(removed)


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
