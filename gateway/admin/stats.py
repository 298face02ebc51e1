"""What the admin API reads from the core's tables: counters, recent events and rejections.

Counters come from ``source_counts`` (kept by the group-commit writer, a row per source and
partition), so they survive restarts and count every process's events.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.storage.database import Database
from gateway.storage.tables import log_table, rejection_table, stats_table

DAY_SECONDS = 24 * 3600


@dataclass
class SourceTotals:
    """A source's counters added up over its partitions' rows."""

    source: str
    events_total: int = 0
    rejected_total: int = 0
    last_event_at: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None

    def add(self, row: Any) -> None:
        self.events_total += int(row.events_total)
        self.rejected_total += int(row.rejected_total)
        if row.last_event_at is not None and (self.last_event_at is None or row.last_event_at > self.last_event_at):
            self.last_event_at = row.last_event_at
        if row.last_error_at is not None and (self.last_error_at is None or row.last_error_at > self.last_error_at):
            self.last_error, self.last_error_at = row.last_error, row.last_error_at


async def source_stats(database: Database) -> dict[str, SourceTotals]:
    async with database.engine.connect() as conn:
        rows = (await conn.execute(select(stats_table))).all()
    totals: dict[str, SourceTotals] = {}
    for row in rows:
        totals.setdefault(row.source, SourceTotals(row.source)).add(row)
    return totals


async def first_seq_since(conn: AsyncConnection, cutoff: float) -> int | None:
    """The first log position received at or after ``cutoff``, by bisecting on the primary key.

    ``received_at`` grows with ``seq`` (events are committed in arrival order, up to the few
    seconds a request can take), so this costs a few dozen key lookups instead of a scan of
    the whole retention period. None when nothing that recent is in the log.
    """
    bounds = (await conn.execute(select(func.min(log_table.c.seq), func.max(log_table.c.seq)))).one()
    if bounds[0] is None:
        return None
    low, high = int(bounds[0]), int(bounds[1]) + 1
    while low < high:
        middle = (low + high) // 2
        at = (await conn.execute(select(log_table.c.received_at).where(log_table.c.seq >= middle)
                                 .order_by(log_table.c.seq).limit(1))).scalar()
        if at is None or at >= cutoff:
            high = middle
        else:
            low = middle + 1
    first = (await conn.execute(select(func.min(log_table.c.seq)).where(log_table.c.seq >= low))).scalar()
    return int(first) if first is not None else None


async def recent_counts(database: Database, floors: Mapping[str, int] | None = None,
                        seconds: float = DAY_SECONDS) -> dict[str, int]:
    """Events per source received in the last ``seconds``, counting only after a source's floor seq."""
    floors = floors or {}
    async with database.engine.connect() as conn:
        first = await first_seq_since(conn, time.time() - seconds)
        if first is None:
            return {}
        rows = (await conn.execute(select(log_table.c.source, func.count())
                                   .where(log_table.c.seq >= first).group_by(log_table.c.source))).all()
        counts = {row[0]: int(row[1]) for row in rows}
        for source, floor in floors.items():
            if source in counts and floor >= first:
                counts[source] = int((await conn.execute(
                    select(func.count()).select_from(log_table)
                    .where(log_table.c.source == source, log_table.c.seq > floor))).scalar() or 0)
    return counts


async def events_page(database: Database, source: str, *, before: int | None, limit: int,
                      since_seq: int = 0) -> Sequence[Any]:
    """The source's events, newest first, older than the ``before`` cursor."""
    stmt = (select(log_table.c.seq, log_table.c.received_at, log_table.c.event, log_table.c.raw)
            .where(log_table.c.source == source, log_table.c.seq > since_seq))
    if before is not None:
        stmt = stmt.where(log_table.c.seq < before)
    async with database.engine.connect() as conn:
        return (await conn.execute(stmt.order_by(log_table.c.seq.desc()).limit(limit))).all()


async def rejections_page(database: Database, source: str, *, before: int | None, limit: int) -> Sequence[Any]:
    stmt = select(rejection_table).where(rejection_table.c.source == source)
    if before is not None:
        stmt = stmt.where(rejection_table.c.id < before)
    async with database.engine.connect() as conn:
        return (await conn.execute(stmt.order_by(rejection_table.c.id.desc()).limit(limit))).all()
