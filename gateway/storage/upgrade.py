"""Bring a previous release's database to this layout, at every start-up, before anything uses it.

The previous release kept one unpartitioned log with the cursors (``sink_cursors``: one seq per sink)
and dead letters beside it. This one partitions the log (``event_log.partition``, ``log_partitions``
with each partition's head) and keeps cursors, leases and dead letters in the delivery state
(``gateway.storage.state_tables``: a file of its own on SQLite, the same database on PostgreSQL).
Every old event becomes partition 0, and every sink's cursor its partition-0 cursor, so a sink
resumes exactly where it stopped: nothing acknowledged is skipped, nothing delivered is sent again.

Each step looks before it acts, so a second start (or one interrupted half-way) does only what is
left. Two processes starting at once take turns: on PostgreSQL a transaction-scoped advisory lock
(never a session one, which breaks behind PgBouncer), on SQLite an flock on a file beside the log
(SQLite's own lock cannot be held across the log's and the state's files). The old tables are kept,
renamed ``previous_*``, after their rows are copied: on PostgreSQL the new tables need the names,
and a kept copy lets an operator check or redo the move; nothing is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import Connection, column, func, inspect, select, table, text, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.schema import CreateIndex

from gateway.storage.database import Database, dialect_insert
from gateway.storage.state_tables import cursor_table, dead_letter_table, state_metadata
from gateway.storage.tables import core_metadata, log_table, partition_table

log = logging.getLogger("gateway.upgrade")

PREVIOUS = "previous_"  # the prefix an old table keeps once its rows are copied
LOCK_KEY = 0x6761_7465_7570  # pg_advisory_xact_lock's key for this step ("gateup")
LOCK_WAIT_SECONDS = 120

# A plugin's own upgrade (the ``upgrade_storage`` hook): called with the log's and the state's database.
Upgrader = Callable[[Database, Database], Awaitable[None]]


def columns(conn: Connection, name: str) -> set[str] | None:
    """The columns of table ``name``, or None when there is no such table."""
    inspector = inspect(conn)
    if not inspector.has_table(name):
        return None
    return {c["name"] for c in inspector.get_columns(name)}


def indexes(conn: Connection, name: str) -> list[Any]:
    return list(inspect(conn).get_indexes(name))


def old_table(conn: Connection, name: str) -> bool:
    """A table of the previous release's layout: named ``name``, without the ``partition`` column."""
    found = columns(conn, name)
    return found is not None and "partition" not in found


@contextlib.asynccontextmanager
async def one_at_a_time(database: Database) -> AsyncIterator[None]:
    """On SQLite, an exclusive flock on ``<log>.upgrade-lock`` for the whole upgrade."""
    if database.path is None:
        yield
        return
    path = database.path.with_name(database.path.name + ".upgrade-lock")
    fd = await asyncio.to_thread(os.open, path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


async def upgrade(log_db: Database, state_db: Database, upgraders: Sequence[Upgrader] = ()) -> None:
    """Upgrade the log (and the plugins' tables, through ``upgraders``) from the previous layout."""
    if log_db.is_sqlite and log_db.path is None:
        return  # an in-memory database has no past
    async with one_at_a_time(log_db):
        async with log_db.engine.begin() as conn:
            if not log_db.is_sqlite:
                # Wait for another process's upgrade rather than fail at the usual short lock timeout;
                # stay in this transaction (holding the lock) while the plugins upgrade theirs.
                await conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_WAIT_SECONDS}s'"))
                await conn.execute(text(f"SET LOCAL idle_in_transaction_session_timeout = '{LOCK_WAIT_SECONDS}s'"))
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
            await _partition_the_log(conn, log_db)
            await _count_per_partition(conn)
            await _move_delivery_state(conn, log_db, state_db)
            if not log_db.is_sqlite:
                await _run(upgraders, log_db, state_db)
        if log_db.is_sqlite:  # after the commit: this transaction holds the file's only write lock
            await _run(upgraders, log_db, state_db)


async def _run(upgraders: Sequence[Upgrader], log_db: Database, state_db: Database) -> None:
    for upgrader in upgraders:
        await upgrader(log_db, state_db)


async def _partition_the_log(conn: AsyncConnection, log_db: Database) -> None:
    await conn.run_sync(core_metadata.create_all)  # log_partitions, and any table a fresh log lacks
    have = await conn.run_sync(columns, "event_log")
    if have is not None and "partition" not in have:
        quote = conn.dialect.identifier_preparer.quote
        await conn.execute(text(f"ALTER TABLE event_log ADD COLUMN {quote('partition')} "
                                "SMALLINT NOT NULL DEFAULT 0"))
        log.info("upgraded the log from the previous layout: event_log has a partition column, "
                 "every earlier event in partition 0")
    index = next(i for i in log_table.indexes if i.name == "ix_event_log_partition_seq")
    # Looked up first: CREATE INDEX takes a lock that holds up other hosts' commits, even when it exists.
    if index.name not in {i["name"] for i in await conn.run_sync(indexes, "event_log")}:
        await conn.execute(CreateIndex(index))
    # A partition's head is where delivery stops reading: at 0 (or missing) it would see none of the
    # earlier events. Raise each to the partition's highest seq; a commit keeps it there, so once
    # upgraded this only reads (an index probe per partition) and never writes.
    heads = {int(p): int(h or 0) for p, h in (await conn.execute(
        select(partition_table.c.partition, partition_table.c.head))).all()}
    raised = []
    for partition in sorted(set(heads) | {0}):
        top = (await conn.execute(select(func.max(log_table.c.seq)).where(
            log_table.c.partition == partition))).scalar()
        if top is None or heads.get(partition, -1) >= top:
            continue
        if partition not in heads:
            await conn.execute(dialect_insert(log_db, partition_table).values(partition=partition, head=0)
                               .on_conflict_do_nothing())
        # never lowered: a commit elsewhere may have moved it past ``top`` meanwhile
        await conn.execute(update(partition_table).where(partition_table.c.partition == partition,
                                                         partition_table.c.head < top).values(head=top))
        raised.append(f"partition {partition} at seq {top}")
    if raised:
        log.info("upgraded the log from the previous layout: partition heads set from the log (%s)",
                 ", ".join(raised))


async def _count_per_partition(conn: AsyncConnection) -> None:
    """The previous release kept one counters row per source (``source_stats``): its figures become
    partition 0's row of ``source_counts``; the old table is kept as ``previous_source_stats``."""
    if await conn.run_sync(columns, "source_stats") is None:
        return
    quote = conn.dialect.identifier_preparer.quote
    moved = await conn.execute(text(
        f"INSERT INTO source_counts (source, {quote('partition')}, events_total, rejected_total, last_event_at, "
        "last_error, last_error_at) SELECT source, 0, events_total, rejected_total, last_event_at, "
        f"last_error, last_error_at FROM source_stats WHERE source NOT IN "
        f"(SELECT source FROM source_counts WHERE {quote('partition')} = 0)"))
    await conn.execute(text("ALTER TABLE source_stats RENAME TO previous_source_stats"))
    log.info("upgraded the log from the previous layout: the counters of %d source(s) kept per partition "
             "(as partition 0's)", moved.rowcount)


async def _move_delivery_state(conn: AsyncConnection, log_db: Database, state_db: Database) -> None:
    """Old ``sink_cursors`` and ``dead_letters`` of the log's database into the delivery state."""
    old = [name for name in ("sink_cursors", "dead_letters") if await conn.run_sync(old_table, name)]
    if not old:
        return
    rows = {name: [dict(r._mapping) for r in (await conn.execute(select(table_of(name)))).all()]
            for name in old}
    if state_db is log_db or state_db.url == log_db.url:
        # One database (PostgreSQL): the new tables take the old names, so rename first; in one
        # transaction, so the rows are never without a table.
        for name in old:
            await conn.execute(text(f"ALTER TABLE {name} RENAME TO {PREVIOUS}{name}"))
            # PostgreSQL's index names are the schema's: the new tables' would collide with the old ones'.
            for index in await conn.run_sync(indexes, f"{PREVIOUS}{name}"):
                await conn.execute(text(f"ALTER INDEX {index['name']} RENAME TO {PREVIOUS}{index['name']}"))
        await conn.run_sync(state_metadata.create_all)
        await _copy(conn, state_db, rows)
    else:
        # Two files (SQLite): copy and commit the state first; only then rename in the log. Stopped in
        # between, the next start copies again (each row only once) and renames.
        await state_db.create_all(state_metadata)
        async with state_db.engine.begin() as state_conn:
            await _copy(state_conn, state_db, rows)
        for name in old:
            await conn.execute(text(f"ALTER TABLE {name} RENAME TO {PREVIOUS}{name}"))


def table_of(name: str) -> Any:
    """The previous release's table ``name``, as far as it is read here."""
    if name == "sink_cursors":
        return table(name, column("sink"), column("seq"), column("updated_at"))
    return table(name, *(column(c) for c in ("id", "sink", "first_seq", "last_seq", "events", "error", "created_at")))


async def _copy(conn: AsyncConnection, state_db: Database, rows: dict[str, list[dict[str, Any]]]) -> None:
    cursors = rows.get("sink_cursors", [])
    for row in cursors:
        # A row a start without this upgrade made (at 0 or at a head of 0) delivered nothing, the log
        # lacking its partition column then: the old cursor wins over a lower one, never a higher.
        insert = dialect_insert(state_db, cursor_table).values(
            sink=row["sink"], partition=0, seq=int(row["seq"]), epoch=0, owner=None, expires_at=0.0,
            updated_at=row["updated_at"] or time.time())
        await conn.execute(insert.on_conflict_do_update(
            index_elements=["sink", "partition"], set_={"seq": insert.excluded.seq},
            where=cursor_table.c.seq < insert.excluded.seq))
    if cursors:
        log.info("upgraded the log from the previous layout: %d sink cursor(s) moved to the delivery state "
                 "as partition 0 (%s)", len(cursors),
                 ", ".join(f"{r['sink']} at seq {r['seq']}" for r in cursors))
    letters = rows.get("dead_letters", [])
    if letters:
        await conn.execute(dialect_insert(state_db, dead_letter_table).on_conflict_do_nothing(),
                           [{**r, "partition": 0} for r in letters])
        if not state_db.is_sqlite:  # ids kept: move the id sequence past them
            await conn.execute(text("SELECT setval(pg_get_serial_sequence('dead_letters', 'id'), "
                                    "(SELECT max(id) FROM dead_letters))"))
    if "dead_letters" in rows:
        log.info("upgraded the log from the previous layout: %d dead letter(s) moved to the delivery state",
                 len(letters))
