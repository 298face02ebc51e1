"""The durable log's writer: group commit.

Requests hand their events to one writer task per process. The writer commits whatever has
queued in a single transaction and only then resolves each request's future, so every 2xx
answer stands on a committed transaction while concurrent requests share the cost of a commit.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, func, literal, select, update
from sqlalchemy.exc import DBAPIError

from gateway.errors import Unavailable
from gateway.storage.database import Database, dialect_insert
from gateway.storage.log_health import LogHealth
from gateway.storage.sqlite_writer import SqliteWriter
from gateway.storage.tables import core_metadata, log_table, partition_table, rejection_table, stats_table

log = logging.getLogger("gateway.log")

# Storage faults that pass (a lock held by another process, a full disk being cleaned up) are
# retried for a while before the request is answered 503; anything else is a bug and surfaces.
TRANSIENT = (DBAPIError, OSError, sqlite3.OperationalError)


def _storable(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with U+0000 in its strings replaced: PostgreSQL's text refuses it (a client's key in a
    rejection's field or reason can carry one), and one such row would fail the whole group's commit."""
    return {k: v.replace("\x00", "\ufffd") if isinstance(v, str) else v for k, v in row.items()}


@dataclass
class Write:
    source: str
    rows: list[dict[str, Any]]
    rejections: list[dict[str, Any]] = field(default_factory=list)
    last_error: str | None = None
    future: asyncio.Future[None] | None = None


class DurableLog:
    def __init__(self, database: Database, *, partitions: int = 1, max_events: int = 20000,
                 unavailable_after: float = 5.0, max_pending_events: int = 200_000, observer: Any = None) -> None:
        self.database = database
        self.partitions = partitions
        # This process's own partition: it commits there unless another process holds it right then.
        self.home = os.getpid() % partitions
        self.max_events = max_events
        self.unavailable_after = unavailable_after
        self.max_pending_events = max_pending_events
        self.observer = observer
        self.head = 0
        self._pending: deque[Write] = deque()
        self._pending_events = 0
        self._wake = asyncio.Event()
        self._committed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._stats_upsert = stats_upsert(database)
        self._pick_partition = pick_partition(partitions, database.is_sqlite)
        self._set_head = update(partition_table).where(partition_table.c.partition == bindparam("p")) \
            .values(head=bindparam("h"))
        # A SQLite file gets the one-hop writer; other databases go through the async engine.
        self.health = LogHealth()  # whether the log can write now, for /ready
        self._writer = SqliteWriter(database, self._stats_upsert, self.health) if database.path is not None \
            else None

    async def start(self) -> None:
        await self.database.create_all(core_metadata)
        await ensure_partitions(self.database, self.partitions)
        self.head = await self.max_seq()
        self._task = asyncio.create_task(self._run(), name="group-commit")

    async def close(self) -> None:
        """Commit what is queued, then stop."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
        if self._writer is not None:
            await self._writer.close()

    async def can_write(self) -> str | None:
        """Why the log cannot write now, or None; probes the log only after a commit failed."""
        health = self.health
        if health.writable or health.permanent:
            return health.reason
        problem = await self._writer.probe() if self._writer is not None else None
        if problem is None:
            health.ok()
        return problem or health.reason

    async def max_seq(self) -> int:
        async with self.database.engine.connect() as conn:
            return int((await conn.execute(select(func.max(log_table.c.seq)))).scalar() or 0)

    def committed_signal(self) -> asyncio.Event:
        """An event set at the next commit (a fresh one is made after each commit)."""
        return self._committed

    async def append(self, write: Write) -> None:
        """Queue ``write`` and return once it is committed; raise Unavailable when it cannot be."""
        if self._closing:
            raise Unavailable("the gateway is shutting down", retry_after=2)
        if self._pending_events > self.max_pending_events:
            raise Unavailable("too many events waiting to be committed", retry_after=1, status=503)
        write.future = asyncio.get_running_loop().create_future()
        self._pending.append(write)
        self._pending_events += len(write.rows)
        self._wake.set()
        await write.future

    def _take_group(self) -> list[Write]:
        group: list[Write] = []
        count = 0
        while self._pending and (not group or count + len(self._pending[0].rows) <= self.max_events):
            write = self._pending.popleft()
            count += len(write.rows)
            group.append(write)
        self._pending_events -= count
        return group

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                group = self._take_group()
                try:
                    await self._commit_with_retry(group)
                except BaseException as exc:
                    for write in group:
                        if write.future is not None and not write.future.done():
                            write.future.set_exception(exc if isinstance(exc, Exception) else
                                                       Unavailable("the gateway is shutting down"))
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for write in group:
                    if write.future is not None and not write.future.done():
                        write.future.set_result(None)
                signal, self._committed = self._committed, asyncio.Event()
                signal.set()
            if self._closing and not self._pending:
                return

    async def _commit_with_retry(self, group: list[Write]) -> None:
        started = time.monotonic()
        delay = 0.02
        while True:
            try:
                await self._commit(group)
                self.health.ok()
                return
            except TRANSIENT as exc:
                waited = time.monotonic() - started
                if waited >= self.unavailable_after:
                    log.error("durable log unavailable after %.1fs: %s", waited, type(exc).__name__)
                    self.health.failed(f"commits fail: {type(exc).__name__}")
                    if self.observer is not None:
                        self.observer.commit_failed()
                    raise Unavailable("events cannot be stored right now; retry later",
                                      retry_after=5) from None
                log.warning("durable log write failed, retrying: %s", str(exc).splitlines()[0][:200])
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.5)

    async def _commit(self, group: list[Write]) -> None:
        started = time.perf_counter()
        rows = [row for write in group for row in write.rows]
        rejections = [_storable(r) for write in group for r in write.rejections]
        per_source: dict[str, dict[str, Any]] = {}
        for write in group:
            stats = per_source.setdefault(write.source, {"source": write.source, "events": 0, "rejected": 0,
                                                         "last": None, "error": None, "error_at": None})
            stats["events"] += len(write.rows)
            stats["rejected"] += len(write.rejections)
            if write.rows:
                stats["last"] = write.rows[-1]["received_at"]
            if write.last_error:
                stats["error"] = write.last_error.replace("\x00", "\ufffd")
                stats["error_at"] = time.time()
        waited = 0.0
        if self._writer is not None:
            # SQLite's write lock is the partition lock: one writer per file, so seq order is commit order.
            for row in rows:
                row["partition"] = self.home
            for stats in per_source.values():
                stats["partition"] = self.home
            head = await self._writer.commit(self.home, rows, rejections, list(per_source.values()))
        else:
            async with self.database.engine.begin() as conn:
                head = None
                part = self.home  # a group of rejections only adds to its home partition's counters
                if rows:
                    # Lock one partition's row for this transaction: seq numbers taken under it are in
                    # commit order within the partition, so no cursor can pass a row committed late.
                    # SKIP LOCKED takes the first free one from home on; only when all are busy wait.
                    # Only that wait is lock wait: SKIP LOCKED never blocks, and counting its round trip
                    # would report "waiting" on a database no other process writes to.
                    free = (await conn.execute(self._pick_partition, {"home": self.home})).scalar()
                    if free is not None:
                        part = int(free)
                    else:
                        lock_started = time.perf_counter()
                        await conn.execute(select(partition_table.c.partition).where(
                            partition_table.c.partition == part).with_for_update())
                        waited = time.perf_counter() - lock_started
                    for row in rows:
                        row["partition"] = part
                    await conn.execute(log_table.insert(), rows)
                    head = (await conn.execute(select(func.max(log_table.c.seq)).where(
                        log_table.c.partition == part))).scalar()
                    await conn.execute(self._set_head, {"p": part, "h": head})
                if rejections:
                    await conn.execute(rejection_table.insert(), rejections)
                for stats in per_source.values():
                    # the counters of the partition this transaction holds: no row shared across hosts
                    await conn.execute(self._stats_upsert, {**stats, "partition": part})
        if head is not None:
            self.head = max(self.head, int(head))
        if self.observer is not None:
            self.observer.committed(len(rows), time.perf_counter() - started, waited)


def pick_partition(partitions: int, is_sqlite: bool) -> Any:
    """The first partition from ``home`` on whose row no other transaction holds (PostgreSQL)."""
    column = partition_table.c.partition
    query = select(column).where(column < partitions) \
        .order_by((column - bindparam("home") + literal(partitions)) % literal(partitions)).limit(1)
    return query if is_sqlite else query.with_for_update(skip_locked=True)


async def ensure_partitions(database: Database, partitions: int) -> None:
    """Make the partitions' rows (a log that had more partitions keeps them: their events are read too)."""
    async with database.engine.begin() as conn:
        have = set((await conn.execute(select(partition_table.c.partition))).scalars())
        missing = [{"partition": p, "head": 0} for p in range(partitions) if p not in have]
        if missing:
            await conn.execute(dialect_insert(database, partition_table).on_conflict_do_nothing(), missing)


def stats_upsert(database: Database) -> Any:
    """Add a group's counts to its source's row of its partition; a time or error a group lacks keeps
    the stored one."""
    insert = dialect_insert(database, stats_table).values(
        source=bindparam("source"), partition=bindparam("partition"), events_total=bindparam("events"),
        rejected_total=bindparam("rejected"),
        last_event_at=bindparam("last"), last_error=bindparam("error"), last_error_at=bindparam("error_at"))
    kept = insert.excluded
    return insert.on_conflict_do_update(index_elements=["source", "partition"], set_={
        "events_total": stats_table.c.events_total + kept.events_total,
        "rejected_total": stats_table.c.rejected_total + kept.rejected_total,
        "last_event_at": func.coalesce(kept.last_event_at, stats_table.c.last_event_at),
        "last_error": func.coalesce(kept.last_error, stats_table.c.last_error),
        "last_error_at": func.coalesce(kept.last_error_at, stats_table.c.last_error_at),
    })
