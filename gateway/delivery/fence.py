"""Fencing: a write made for a (sink, partition) stands only while the writer's epoch is current.

A sink that writes state of its own for a batch (the webhook sink stores the batch) makes its
writes in one transaction and calls ``check_epoch`` inside it, after its first write: on SQLite
the write has taken the file's lock, on PostgreSQL the lease row is read FOR SHARE, so no claim can
change the epoch between the check and the commit. A stale epoch rolls the transaction back.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.storage.state_tables import cursor_table


class LeaseLost(Exception):
    """The lease this write depended on has passed to another process (a newer epoch)."""


async def check_epoch(conn: AsyncConnection, sink: str, partition: int, epoch: int) -> None:
    query = select(cursor_table.c.epoch).where(cursor_table.c.sink == sink, cursor_table.c.partition == partition)
    if conn.dialect.name != "sqlite":
        query = query.with_for_update(read=True)
    current = (await conn.execute(query)).scalar()
    if current != epoch:
        raise LeaseLost(f"sink {sink!r} partition {partition}: epoch {epoch} is stale (now {current})")
