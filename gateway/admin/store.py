"""Reading and writing runtime sources; every change bumps the generation in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.admin.tables import admin_metadata, generation_table, runtime_source_table
from gateway.storage.database import Database, dialect_insert
from gateway.storage.tables import log_table, rejection_table, stats_table


@dataclass(frozen=True)
class Record:
    """A source created through the API, as stored."""

    name: str
    dialect: str
    settings: dict[str, Any]
    retired_keys: list[tuple[str, float]] = field(default_factory=list)
    since_seq: int = 0
    created_at: float = 0.0
    updated_at: float = 0.0


def _record(row: Any) -> Record:
    return Record(name=row.name, dialect=row.dialect, settings=orjson.loads(row.settings),
                  retired_keys=[(k, float(t)) for k, t in orjson.loads(row.retired_keys)],
                  since_seq=int(row.since_seq), created_at=float(row.created_at),
                  updated_at=float(row.updated_at))


class RuntimeSourceStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def ensure(self) -> None:
        for attempt in range(3):
            try:
                await self.database.create_all(admin_metadata)
                break
            except DBAPIError:
                # Worker processes starting together race to create the tables: the loser finds
                # them made on its next look.
                if attempt == 2:
                    raise
        async with self.database.engine.begin() as conn:
            stmt = dialect_insert(self.database, generation_table).values(id=1, value=0)
            await conn.execute(stmt.on_conflict_do_nothing(index_elements=["id"]))

    async def generation(self) -> int:
        async with self.database.engine.connect() as conn:
            value = (await conn.execute(select(generation_table.c.value).where(generation_table.c.id == 1))).scalar()
            return int(value or 0)

    async def load(self) -> tuple[int, list[Record]]:
        """Every stored source and the generation they belong to, read together."""
        async with self.database.engine.connect() as conn:
            value = (await conn.execute(select(generation_table.c.value).where(generation_table.c.id == 1))).scalar()
            rows = (await conn.execute(select(runtime_source_table)
                                       .order_by(runtime_source_table.c.created_at))).all()
        return int(value or 0), [_record(r) for r in rows]

    async def head(self) -> int:
        async with self.database.engine.connect() as conn:
            return int((await conn.execute(select(func.max(log_table.c.seq)))).scalar() or 0)

    @staticmethod
    async def _bump(conn: AsyncConnection) -> None:
        await conn.execute(update(generation_table).where(generation_table.c.id == 1)
                           .values(value=generation_table.c.value + 1))

    async def insert(self, record: Record) -> None:
        """Store a new source; raises sqlalchemy's IntegrityError when the name is taken."""
        async with self.database.engine.begin() as conn:
            await conn.execute(runtime_source_table.insert().values(
                name=record.name, dialect=record.dialect, settings=orjson.dumps(record.settings),
                retired_keys=orjson.dumps(record.retired_keys), since_seq=record.since_seq,
                created_at=record.created_at, updated_at=record.updated_at))
            await self._bump(conn)

    async def replace_keys(self, record: Record) -> bool:
        """Store rotated keys; False when the source was deleted meanwhile."""
        async with self.database.engine.begin() as conn:
            result = await conn.execute(
                update(runtime_source_table).where(runtime_source_table.c.name == record.name)
                .values(settings=orjson.dumps(record.settings), retired_keys=orjson.dumps(record.retired_keys),
                        updated_at=record.updated_at))
            await self._bump(conn)
            return bool(result.rowcount)

    async def delete(self, name: str) -> bool:
        """Remove the source with its counters and rejections, so a later source of that name starts afresh.

        Its events stay in the log for the sinks that have not taken them yet.
        """
        async with self.database.engine.begin() as conn:
            result = await conn.execute(delete(runtime_source_table).where(runtime_source_table.c.name == name))
            await conn.execute(delete(stats_table).where(stats_table.c.source == name))
            await conn.execute(delete(rejection_table).where(rejection_table.c.source == name))
            await self._bump(conn)
            return bool(result.rowcount)
