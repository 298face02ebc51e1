"""The webhook sink's two tables, in the delivery state's database (the log's on PostgreSQL).

``webhook_batches`` holds one small row per batch: its state and delivery history.
``webhook_payloads`` holds the batch's events (one JSON array, the bytes the log committed),
apart, because SQLite rewrites a whole row on every update: recording an attempt must not
rewrite megabytes. A payload is removed once its batch is delivered; a dead batch keeps it.

Living beside the leases, a batch's insert and every outcome recorded can be fenced by the lease's
epoch in the same transaction; the sender, the API and the CLI of another process see them alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import BigInteger, Column, Float, Index, Integer, LargeBinary, MetaData, String, Table, Text, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway import Database

from .settings import DEAD, DELIVERED, PENDING, RETRYING, STATES, WAITING

__all__ = ["DEAD", "DELIVERED", "PENDING", "RETRYING", "STATES", "WAITING"]

metadata = MetaData()
batches = Table(
    "webhook_batches",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("webhook", String(128), nullable=False),
    Column("state", String(16), nullable=False),
    Column("size", Integer, nullable=False),
    # The log's partition and seqs the batch covers: 64-bit like the log's seq.
    Column("partition", Integer, nullable=False, default=0),
    Column("first_seq", BigInteger, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    Column("first_failure_at", Float, nullable=True),
    Column("last_attempt_at", Float, nullable=True),
    Column("next_attempt_at", Float, nullable=True),
    Column("last_status", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("finished_at", Float, nullable=True),
    Index("webhook_batches_due", "webhook", "state", "next_attempt_at"),
    Index("webhook_batches_recent", "webhook", "created_at"),
)
payloads = Table(
    "webhook_payloads",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("payload", LargeBinary, nullable=False),
)

AUTOCHECKPOINT_PAGES = 16384

# Keyed by the engine itself, weakly: an id() would be reused by the next engine once this one is gone.
_ready: weakref.WeakSet[AsyncEngine] = weakref.WeakSet()
_creating: weakref.WeakKeyDictionary[AsyncEngine, asyncio.Lock] = weakref.WeakKeyDictionary()
_write_locks: weakref.WeakKeyDictionary[AsyncEngine, asyncio.Lock] = weakref.WeakKeyDictionary()


async def ensure_tables(database: Database) -> None:
    """Create the tables once per engine. Every webhook sink starts at the same moment, and the
    API or the CLI (another process) may be first, so creation is serialised here and a
    "table exists" from a concurrent creator is taken as success."""
    engine = database.engine
    if engine in _ready:
        return
    async with _creating.setdefault(engine, asyncio.Lock()):
        if engine in _ready:
            return
        try:
            await database.create_all(metadata)
        except OperationalError:
            await database.create_all(metadata)  # the other creator has finished: this one checks and skips
        _ready.add(engine)


def sync_when_the_cursor_does(database: Database) -> None:
    """On SQLite, commit this engine's writes without an fsync of their own (``synchronous=NORMAL``).

    The delivery state is one file in WAL mode, and WAL survives a power loss as a prefix of its
    transactions, never torn. A batch is stored before ``deliver`` returns, and only then does the
    core move the cursor, in a later transaction of the same file that it syncs (the storage's
    ``synchronous``, FULL unless the operator chose less): that fsync makes the stored batch durable
    with it, so a cursor that survives never points past a batch that did not. A lost outcome or
    purge (also later in the prefix) only sends its batch once more, which at-least-once allows; a
    kill -9 loses nothing either way (NORMAL only defers the fsync, the write is in the WAL).
    This saves two of the three fsyncs a batch cost (store, outcome; the purge was already shared).
    """
    if not database.is_sqlite:
        return

    @event.listens_for(database.engine.sync_engine, "connect")
    def no_own_fsync(dbapi_connection: Any, _record: Any) -> None:  # after the core's pragmas: wins
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=NORMAL")
        # A stored batch is megabytes, past SQLite's automatic checkpoint (1000 pages): each store
        # would copy its WAL into the file and sync both. The sender checkpoints once a second
        # instead (``checkpoint``); this much WAL (64 MiB) is the bound if it cannot.
        cursor.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
        cursor.close()


async def checkpoint(engine: AsyncEngine) -> None:
    """Copy the WAL into the file without waiting for readers (PASSIVE); SQLite only."""
    if engine.dialect.name == "sqlite":
        async with _write_locks.setdefault(engine, asyncio.Lock()), engine.connect() as conn:
            await conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")


@contextlib.asynccontextmanager
async def writing(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A write transaction, one at a time per engine in this process.

    SQLite has one writer; the webhook sinks' stores, attempts and replays queueing here leave
    the busy timeout to the core's group commit instead of to a crowd of our own writers.
    """
    async with _write_locks.setdefault(engine, asyncio.Lock()), engine.begin() as conn:
        yield conn
