"""The lease and cursor rows: claim, renew, release, advance; the delivery processes' registry.

Every write here is a compare-and-set on the epoch or the owner, so two processes that race for a
row cannot both win, and a process whose lease was taken can no longer move the cursor. Times are
the database's clock (``now()``), so hosts with skewed clocks still agree on expiry.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Float, delete, literal_column, or_, select, text, update
from sqlalchemy.sql.elements import ColumnElement

from gateway.storage.database import Database, dialect_insert
from gateway.storage.state_tables import cursor_table, dead_letter_table, process_table, state_metadata

HOUSEKEEPING = "~housekeeping"  # the lease row that lets one process prune (partition 0)


@dataclass
class Lease:
    """A lease this process holds; ``deadline`` is local (monotonic): past it, stop using the lease."""

    sink: str
    partition: int
    epoch: int
    deadline: float

    def valid(self) -> bool:
        return time.monotonic() < self.deadline


@dataclass(frozen=True)
class Row:
    sink: str
    partition: int
    seq: int
    epoch: int
    owner: str | None
    expires_at: float


class LeaseStore:
    def __init__(self, database: Database, owner: str) -> None:
        self.database = database
        self.owner = owner
        self._now = text(database.now_sql())
        # The database's clock inside a statement: a lease runs from when it was granted, however
        # long the heartbeat around it took on a loaded host.
        self._clock: ColumnElement[float] = literal_column(database.now_sql().removeprefix("SELECT "),
                                                           type_=Float())

    async def ensure(self) -> None:
        await self.database.create_all(state_metadata)

    async def now(self) -> float:
        async with self.database.engine.connect() as conn:
            return float((await conn.execute(self._now)).scalar() or 0.0)

    # -- processes -----------------------------------------------------------------------------
    async def beat(self, *, host: str, pid: int, supervisor: int, sinks: Sequence[str], started_at: float,
                   expires_at: float, report: dict[str, Any]) -> None:
        values = {"id": self.owner, "host": host, "pid": pid, "supervisor": supervisor,
                  "sinks": orjson.dumps(list(sinks)), "started_at": started_at, "expires_at": expires_at,
                  "report": orjson.dumps(report)}
        stmt = dialect_insert(self.database, process_table).values(**values)
        async with self.database.engine.begin() as conn:
            await conn.execute(stmt.on_conflict_do_update(index_elements=["id"], set_={
                k: stmt.excluded[k] for k in ("sinks", "expires_at", "report")}))

    async def processes(self, now: float | None = None) -> list[dict[str, Any]]:
        """Live processes (all when ``now`` is None), their sinks and reports decoded."""
        query = select(process_table)
        if now is not None:
            query = query.where(process_table.c.expires_at > now)
        async with self.database.engine.connect() as conn:
            rows = (await conn.execute(query.order_by(process_table.c.started_at))).all()
        return [{**r._mapping, "sinks": orjson.loads(r.sinks),
                 "report": orjson.loads(r.report) if r.report else {}} for r in rows]

    async def leave(self) -> None:
        async with self.database.engine.begin() as conn:
            await conn.execute(delete(process_table).where(process_table.c.id == self.owner))

    async def forget_dead(self, before: float) -> None:
        async with self.database.engine.begin() as conn:
            await conn.execute(delete(process_table).where(process_table.c.expires_at < before))

    # -- leases --------------------------------------------------------------------------------
    async def rows(self) -> dict[tuple[str, int], Row]:
        async with self.database.engine.connect() as conn:
            rows = (await conn.execute(select(cursor_table))).all()
        return {(r.sink, int(r.partition)): Row(r.sink, int(r.partition), int(r.seq), int(r.epoch), r.owner,
                                                float(r.expires_at)) for r in rows}

    async def add(self, sink: str, partition: int, seq: int) -> None:
        """A row for a (sink, partition) that has none yet, unowned; a concurrent adder's row wins."""
        async with self.database.engine.begin() as conn:
            await conn.execute(dialect_insert(self.database, cursor_table).values(
                sink=sink, partition=partition, seq=seq, epoch=0, owner=None, expires_at=0.0,
                updated_at=time.time()).on_conflict_do_nothing())

    async def claim(self, sink: str, partition: int, seen_epoch: int, now: float, ttl: float,
                    dead_owner: str | None = None) -> int | None:
        """Take the lease if it is free, expired, ours, or its owner's process is known dead, and its
        epoch is still the one seen: the new epoch, or None when another process came first."""
        c = cursor_table.c
        free = or_(c.owner.is_(None), c.expires_at <= now, c.owner == self.owner)
        if dead_owner is not None:
            free = or_(free, c.owner == dead_owner)
        async with self.database.engine.begin() as conn:
            done = await conn.execute(
                update(cursor_table)
                .where(c.sink == sink, c.partition == partition, c.epoch == seen_epoch, free)
                .values(owner=self.owner, epoch=seen_epoch + 1, expires_at=self._clock + ttl))
        return seen_epoch + 1 if done.rowcount == 1 else None

    async def renew(self, ttl: float) -> dict[tuple[str, int], int]:
        """Extend every lease still ours by ``ttl`` from now: what we still hold, with its epoch."""
        async with self.database.engine.begin() as conn:
            rows = (await conn.execute(
                update(cursor_table).where(cursor_table.c.owner == self.owner)
                .values(expires_at=self._clock + ttl)
                .returning(cursor_table.c.sink, cursor_table.c.partition, cursor_table.c.epoch))).all()
        return {(r.sink, int(r.partition)): int(r.epoch) for r in rows}

    async def release(self, sink: str, partition: int, epoch: int) -> None:
        async with self.database.engine.begin() as conn:
            await conn.execute(
                update(cursor_table)
                .where(cursor_table.c.sink == sink, cursor_table.c.partition == partition,
                       cursor_table.c.epoch == epoch, cursor_table.c.owner == self.owner)
                .values(owner=None, expires_at=0.0))

    async def advance(self, sink: str, partition: int, epoch: int, seq: int) -> bool:
        """Move the cursor, only while ``epoch`` is current: False means the lease was taken."""
        async with self.database.engine.begin() as conn:
            done = await conn.execute(
                update(cursor_table)
                .where(cursor_table.c.sink == sink, cursor_table.c.partition == partition,
                       cursor_table.c.epoch == epoch)
                .values(seq=seq, updated_at=time.time()))
        return done.rowcount == 1

    async def dead_letter(self, sink: str, partition: int, first_seq: int, last_seq: int, raw: list[bytes],
                          error: str) -> None:
        async with self.database.engine.begin() as conn:
            # Values as parameters, not in the statement: SQLAlchemy's compiled cache keeps the first
            # statement of each shape, which would hold that batch's events for good.
            await conn.execute(dead_letter_table.insert(), {
                "sink": sink, "partition": partition, "first_seq": first_seq, "last_seq": last_seq,
                "events": b"[" + b",".join(raw) + b"]", "error": error[:1000], "created_at": time.time()})


async def delete_sink_state(database: Database, sink: str) -> None:
    """A sink removed for good: its cursors go (a sink of that name made later starts afresh)."""
    async with database.engine.begin() as conn:
        await conn.execute(delete(cursor_table).where(cursor_table.c.sink == sink))
