"""The batch table's writes, on a real SQLite file: what they hold on to once done."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
from pathlib import Path

from gateway_plugins.webhook_sink import store

from gateway.storage.database import Database
from tests.support.references import remember, still_referenced


def test_a_stored_payload_is_not_kept_in_memory_by_the_statement_cache(tmp_path: Path) -> None:
    """SQLAlchemy's compiled cache keeps the first statement of each shape: values written into the
    statement (``.values(payload=...)``) would keep that batch's megabytes for the process's life."""
    async def scenario() -> None:
        database = Database("sqlite+aiosqlite:///data/gateway.db", tmp_path)
        try:
            await store.ensure_tables(database)
            seen: dict[int, bytes] = {}
            for i in range(3):
                payload = b"[" + b",".join([b'{"n":%d}' % n for n in range(i, 200_000)]) + b"]"
                remember(seen, payload)
                await store.insert(database.engine, f"batch-{i}", "hook", 1, i, i, payload)
                del payload
            gc.collect()
            assert still_referenced(seen) == 0
            assert await store.payload(database.engine, "batch-2") is not None
        finally:
            await database.dispose()

    asyncio.run(scenario())


def sqlite_memory_used() -> int:
    """What SQLite itself has allocated in this process (the sqlite3 module's library), in bytes."""
    library = ctypes.CDLL(ctypes.util.find_library("sqlite3") or "libsqlite3.so.0")
    library.sqlite3_memory_used.restype = ctypes.c_int64
    return int(library.sqlite3_memory_used())


def test_no_pooled_connection_keeps_the_last_payload_it_bound(tmp_path: Path) -> None:
    """SQLite keeps the values last bound to a prepared statement until it runs again, and the sqlite3
    module caches prepared statements per connection: each pooled connection that stored a batch kept
    its body, megabytes each, in SQLite's own memory."""
    async def scenario() -> None:
        database = Database("sqlite+aiosqlite:///data/gateway.db", tmp_path)
        try:
            await store.ensure_tables(database)
            before = sqlite_memory_used()
            for i in range(3):
                await store.insert(database.engine, f"batch-{i}", "hook", 1, i, i, b"x" * 5_000_000)
            assert sqlite_memory_used() - before < 4_000_000  # each connection's page cache is 2 MB
        finally:
            await database.dispose()

    asyncio.run(scenario())
