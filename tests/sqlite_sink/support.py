"""Canonical events of every type, a sink on a real SQLite file, and a plain sqlite3 reader."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from gateway_plugins.sqlite_sink.sink import SqliteSink

from gateway import Batch, SinkContext
from gateway.storage.database import Database
from tests.conftest import BASE_CONFIG

SOURCE = {"id": "0b7a6c2e-0000-4000-8000-000000000001", "name": "backend", "dialect": "segment_style"}
CONTEXT = {"ip": "203.0.113.9", "library": {"name": "analytics-python", "version": "2.3.2"}}
TIMES = {
    "timestamp": "2024-05-01T09:59:58.500Z",
    "originalTimestamp": "2024-05-01T11:59:59.000+02:00",
    "sentAt": "2024-05-01T12:00:00.500+02:00",
    "receivedAt": "2024-05-01T10:00:00.000Z",
}

# One canonical event per type, as the core commits them (stamped, skew-corrected).
EVENTS: dict[str, dict[str, Any]] = {
    "track": {
        "messageId": "m-track", "type": "track", "event": "Order Completed", "userId": "u1",
        "anonymousId": "a1", "properties": {"total": 39.5, "items": [{"sku": "x"}], "note": "café"},
        "context": CONTEXT, "integrations": {"All": False}, **TIMES, "source": SOURCE,
    },
    "identify": {
        "messageId": "m-identify", "type": "identify", "userId": "u1",
        "traits": {"email": "ada@example.com", "plan": "pro"}, "context": CONTEXT, **TIMES, "source": SOURCE,
    },
    "page": {
        "messageId": "m-page", "type": "page", "name": "Pricing", "anonymousId": "a2",
        "properties": {"path": "/pricing"}, "context": CONTEXT, **TIMES, "source": SOURCE,
    },
    "screen": {
        "messageId": "m-screen", "type": "screen", "name": "Home", "userId": "u2",
        "properties": {"tab": 1}, "context": CONTEXT, **TIMES, "source": SOURCE,
    },
    "group": {
        "messageId": "m-group", "type": "group", "groupId": "g1", "userId": "u1",
        "traits": {"name": "Acme"}, "context": CONTEXT, **TIMES, "source": SOURCE,
    },
    "alias": {
        "messageId": "m-alias", "type": "alias", "previousId": "a1", "userId": "u1",
        "context": CONTEXT, **TIMES, "source": SOURCE,
    },
}


def batch(events: list[dict[str, Any]], first_seq: int = 1) -> Batch:
    raw = [orjson.dumps(e) for e in events]
    return Batch(first_seq, first_seq + len(raw) - 1, raw)


def make_sink(config_dir: Path, url: str = "sqlite+aiosqlite:///data/events.db") -> SqliteSink:
    context = SinkContext(
        name="events-db",
        database=Database("sqlite+aiosqlite:///data/gateway.db", base_dir=config_dir),
        config_dir=config_dir,
        logger=logging.getLogger("test.sqlite_sink"),
    )
    return SqliteSink(url, context)


def deliver(config_dir: Path, *batches: Batch, url: str = "sqlite+aiosqlite:///data/events.db") -> None:
    """Start a sink, deliver the batches in order, stop it: what the delivery engine does."""

    async def go() -> None:
        sink = make_sink(config_dir, url)
        await sink.start()
        try:
            for b in batches:
                await sink.deliver(b)
        finally:
            await sink.stop()

    asyncio.run(go())


@contextmanager
def reader(path: Path) -> Iterator[sqlite3.Connection]:
    """Another client on the file, as a self-hoster's sqlite3 shell would be."""
    conn = sqlite3.connect(path, timeout=5, isolation_level=None)
    conn.row_factory = sqlite3.Row
    try:
        yield conn
    finally:
        conn.close()


def rows(path: Path, where: str = "1 = 1", params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    with reader(path) as conn:
        return [dict(r) for r in conn.execute(f"SELECT * FROM events WHERE {where} ORDER BY id", params)]


GATEWAY_CONFIG = f"""
{BASE_CONFIG}
[[sources]]
name = "backend"
dialect = "segment_style"
write_key = "wk_backend"

[[sources]]
name = "web"
dialect = "segment_style"
write_key = "wk_web"

[[sinks]]
name = "console"
type = "stdout"
"""


def sqlite_sink_table(name: str = "events-db", url: str = "sqlite+aiosqlite:///data/events.db") -> str:
    return f'\n[[sinks]]\nname = "{name}"\ntype = "sqlite"\nurl = "{url}"\n'


def count_rows(path: Path, where: str = "1 = 1", params: tuple[Any, ...] = ()) -> int:
    """Rows so far; 0 before the sink has made its file and table (never creating the file)."""
    if not path.exists():
        return 0
    try:
        with reader(path) as conn:
            return int(conn.execute(f"SELECT count(*) FROM events WHERE {where}", params).fetchone()[0])
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return 0
        raise
