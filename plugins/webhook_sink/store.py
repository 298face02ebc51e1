"""Reads and writes of batches: store, find what is due, record attempts, replay, report."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from gateway import check_epoch

from .tables import (
    DEAD,
    DELIVERED,
    PENDING,
    RETRYING,
    STATES,
    WAITING,
    batches,
    checkpoint,
    ensure_tables,
    payloads,
    sync_when_the_cursor_does,
    writing,
)

__all__ = ["DEAD", "DELIVERED", "PENDING", "RETRYING", "STATES", "WAITING", "checkpoint", "ensure_tables",
           "sync_when_the_cursor_does"]


@dataclass(frozen=True)
class Due:
    """A batch whose next attempt is due: what the sender needs, nothing more."""

    id: str
    attempts: int
    first_failure_at: float | None
    partition: int = 0


async def insert(engine: AsyncEngine, batch_id: str, webhook: str, size: int, first_seq: int,
                 last_seq: int, payload: bytes, *, partition: int = 0, epoch: int | None = None) -> None:
    """Store a batch; with ``epoch``, only while that epoch holds the partition's lease (else LeaseLost)."""
    now = time.time()
    async with writing(engine) as conn:
        # Parameters apart from the statement: SQLAlchemy's compiled cache keeps the first statement
        # of each shape, and with ``.values()`` that one would hold its megabytes of payload for good.
        await conn.execute(payloads.insert(), {"id": batch_id, "payload": payload})
        await conn.execute(batches.insert().values(
            id=batch_id, webhook=webhook, state=PENDING, size=size, partition=partition, first_seq=first_seq,
            last_seq=last_seq, attempts=0, created_at=now, next_attempt_at=now))
        if epoch is not None:
            await check_epoch(conn, webhook, partition, epoch)


async def highest_seq(engine: AsyncEngine, webhook: str, partition: int = 0) -> int | None:
    async with engine.connect() as conn:
        value = await conn.scalar(select(func.max(batches.c.last_seq)).where(
            batches.c.webhook == webhook, batches.c.partition == partition))
    return int(value) if value is not None else None


async def count_waiting(engine: AsyncEngine, webhook: str) -> int:
    async with engine.connect() as conn:
        value = await conn.scalar(select(func.count()).select_from(batches).where(
            batches.c.webhook == webhook, batches.c.state.in_(WAITING)))
    return int(value or 0)


async def due(engine: AsyncEngine, webhook: str, now: float, limit: int, skip: Sequence[str],
              partitions: Sequence[int] | None = None) -> list[Due]:
    """Batches due now, of ``partitions`` only when given (those whose lease this process holds)."""
    where = [batches.c.webhook == webhook, batches.c.state.in_(WAITING), batches.c.next_attempt_at <= now]
    if partitions is not None:
        where.append(batches.c.partition.in_(list(partitions)))
    query = (select(batches.c.id, batches.c.attempts, batches.c.first_failure_at, batches.c.partition)
             .where(*where)
             .order_by(batches.c.next_attempt_at, batches.c.created_at)
             .limit(limit + len(skip)))
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [Due(r.id, r.attempts, r.first_failure_at, r.partition) for r in rows if r.id not in skip][:limit]


async def payload(engine: AsyncEngine, batch_id: str) -> bytes | None:
    async with engine.connect() as conn:
        value = await conn.scalar(select(payloads.c.payload).where(payloads.c.id == batch_id))
    return bytes(value) if value is not None else None


Fence = tuple[str, int, int]  # (webhook, partition, epoch) an outcome is recorded under


async def record_success(engine: AsyncEngine, batch_id: str, status: int, fence: Fence | None = None) -> None:
    """Only the small row changes; the payload goes in the next ``purge`` (one commit for many)."""
    now = time.time()
    async with writing(engine) as conn:
        await conn.execute(update(batches).where(batches.c.id == batch_id).values(
            state=DELIVERED, attempts=batches.c.attempts + 1, last_attempt_at=now, last_status=status,
            last_error=None, next_attempt_at=None, finished_at=now))
        if fence is not None:
            await check_epoch(conn, *fence)


async def record_failure(engine: AsyncEngine, batch_id: str, *, status: int | None, error: str,
                         first_failure_at: float, next_attempt_at: float | None,
                         fence: Fence | None = None) -> None:
    """A failed attempt: retry at ``next_attempt_at``, or dead when it is None."""
    now = time.time()
    values: dict[str, Any] = {
        "attempts": batches.c.attempts + 1, "last_attempt_at": now, "last_status": status,
        "last_error": error[:1000], "first_failure_at": first_failure_at,
    }
    if next_attempt_at is None:
        values.update(state=DEAD, next_attempt_at=None, finished_at=now)
    else:
        values.update(state=RETRYING, next_attempt_at=next_attempt_at)
    async with writing(engine) as conn:
        # Only a batch still waiting: a replay or a delete in the meantime wins.
        await conn.execute(update(batches).where(batches.c.id == batch_id, batches.c.state.in_(WAITING))
                           .values(**values))
        if fence is not None:
            await check_epoch(conn, *fence)


async def purge(engine: AsyncEngine, batch_ids: Sequence[str]) -> None:
    """Drop the payloads of delivered batches, then checkpoint (what was stored since is in the WAL)."""
    if batch_ids:
        async with writing(engine) as conn:
            await conn.execute(delete(payloads).where(payloads.c.id.in_(list(batch_ids))))
        await checkpoint(engine)


async def delivered_with_payload(engine: AsyncEngine, webhook: str) -> list[str]:
    """Delivered batches whose payload a crash kept from being purged."""
    query = (select(batches.c.id).join(payloads, payloads.c.id == batches.c.id)
             .where(batches.c.webhook == webhook, batches.c.state == DELIVERED))
    async with engine.connect() as conn:
        return list((await conn.execute(query)).scalars())


async def replay(engine: AsyncEngine, *, batch_id: str | None = None, webhook: str | None = None,
                 since: float | None = None) -> list[str]:
    """Put dead (or waiting) batches back in line, due now, with a fresh retry window."""
    where: list[ColumnElement[bool]] = [batches.c.state.in_((DEAD, *WAITING))]
    if batch_id is not None:
        where.append(batches.c.id == batch_id)
    else:
        where.append(batches.c.state == DEAD)
    if webhook is not None:
        where.append(batches.c.webhook == webhook)
    if since is not None:
        where.append(batches.c.created_at >= since)
    async with writing(engine) as conn:
        ids = list((await conn.execute(select(batches.c.id).where(*where))).scalars())
        if ids:
            await conn.execute(update(batches).where(batches.c.id.in_(ids)).values(
                state=PENDING, attempts=0, first_failure_at=None, next_attempt_at=time.time(),
                finished_at=None))
    return ids


async def get(engine: AsyncEngine, batch_id: str) -> dict[str, Any] | None:
    async with engine.connect() as conn:
        row = (await conn.execute(select(batches).where(batches.c.id == batch_id))).first()
    return dict(row._mapping) if row is not None else None


async def recent(engine: AsyncEngine, webhook: str, *, state: str | None = None,
                 limit: int = 100) -> list[dict[str, Any]]:
    query = select(batches).where(batches.c.webhook == webhook)
    if state is not None:
        query = query.where(batches.c.state == state)
    query = query.order_by(batches.c.created_at.desc()).limit(limit)
    async with engine.connect() as conn:
        return [dict(r._mapping) for r in (await conn.execute(query)).all()]


async def counts(engine: AsyncEngine, webhook: str | None = None) -> dict[str, dict[str, int]]:
    """Batches per webhook and state, e.g. ``{"partner": {"dead": 2, "retrying": 1}}``."""
    query = (select(batches.c.webhook, batches.c.state, func.count())
             .group_by(batches.c.webhook, batches.c.state))
    if webhook is not None:
        query = query.where(batches.c.webhook == webhook)
    out: dict[str, dict[str, int]] = {}
    async with engine.connect() as conn:
        for name, state, n in (await conn.execute(query)).all():
            out.setdefault(name, {})[state] = int(n)
    return out


async def forget(engine: AsyncEngine, webhook: str) -> None:
    ids = select(batches.c.id).where(batches.c.webhook == webhook)
    async with writing(engine) as conn:
        await conn.execute(delete(payloads).where(payloads.c.id.in_(ids)))
        await conn.execute(delete(batches).where(batches.c.webhook == webhook))


async def prune_delivered(engine: AsyncEngine, webhook: str, older_than: float) -> None:
    """Delivered rows only serve batch-status; keep a day of them."""
    async with writing(engine) as conn:
        await conn.execute(delete(batches).where(batches.c.webhook == webhook, batches.c.state == DELIVERED,
                                                 batches.c.finished_at < older_than))
