"""The batch table's writes, on a real SQLite file: what they hold on to once done."""

from __future__ import annotations

import asyncio
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
