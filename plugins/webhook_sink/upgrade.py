"""The previous release's webhook tables, brought to this layout (the ``upgrade_storage`` hook).

They lived in the log's database, unpartitioned, with 32-bit seqs. Now they live in the delivery
state's database and carry the log partition with 64-bit seqs. On PostgreSQL that is the same
database: the tables stay, gaining the column and the wider seqs. On SQLite the state is another file:
every batch (partition 0, the only one then) and payload is copied there, the state's commit comes
first, and only then are the old tables renamed ``previous_*`` (kept, not dropped). A pending or
retrying batch is then sent as any other; a delivered one keeps its state and is not sent again.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Connection, column, inspect, select, table, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway import Database

from .tables import batches, ensure_tables, payloads

log = logging.getLogger("gateway.upgrade")


def _columns(conn: Connection) -> dict[str, Any] | None:
    inspector = inspect(conn)
    if not inspector.has_table("webhook_batches"):
        return None
    return {c["name"]: c["type"] for c in inspector.get_columns("webhook_batches")}


async def upgrade_tables(log_database: Database, state_database: Database) -> None:
    async with log_database.engine.begin() as conn:
        found = await conn.run_sync(_columns)
        if found is None:
            return
        if state_database.url == log_database.url:
            await _in_place(conn, found)
        else:
            await _to_state_file(conn, state_database)


async def _in_place(conn: AsyncConnection, found: dict[str, Any]) -> None:
    quote = conn.dialect.identifier_preparer.quote
    done = []
    if "partition" not in found:
        await conn.execute(text(f"ALTER TABLE webhook_batches ADD COLUMN {quote('partition')} "
                                "INTEGER NOT NULL DEFAULT 0"))
        done.append("a partition column (0 for every earlier batch)")
    narrow = [c for c in ("first_seq", "last_seq") if "BIGINT" not in str(found[c]).upper()]
    if narrow and conn.dialect.name != "sqlite":  # SQLite's INTEGER is 64-bit already
        await conn.execute(text("ALTER TABLE webhook_batches "
                                + ", ".join(f"ALTER COLUMN {c} TYPE BIGINT" for c in narrow)))
        done.append("64-bit seqs")
    if done:
        log.info("upgraded the webhook sink's tables from the previous layout: %s", ", ".join(done))


async def _to_state_file(conn: AsyncConnection, state_database: Database) -> None:
    old = table("webhook_batches", *(column(c.name) for c in batches.c if c.name != "partition"))
    old_batches = [dict(r._mapping) for r in (await conn.execute(select(old))).all()]
    old_payloads = [dict(r._mapping) for r in (await conn.execute(
        select(table("webhook_payloads", column("id"), column("payload"))))).all()]
    await ensure_tables(state_database)
    async with state_database.engine.begin() as state:  # a SQLite file (PostgreSQL is one database)
        if old_batches:  # each row once, should a start stopped before the rename copy again
            await state.execute(sqlite_insert(batches).on_conflict_do_nothing(),
                                [{**b, "partition": 0} for b in old_batches])
        if old_payloads:
            await state.execute(sqlite_insert(payloads).on_conflict_do_nothing(), old_payloads)
    for name in ("webhook_batches", "webhook_payloads"):
        await conn.execute(text(f"ALTER TABLE {name} RENAME TO previous_{name}"))
    states: dict[str, int] = {}
    for b in old_batches:
        states[b["state"]] = states.get(b["state"], 0) + 1
    log.info("upgraded the webhook sink's tables from the previous layout: %d batch(es) (%s) and %d payload(s) "
             "moved to the delivery state", len(old_batches),
             ", ".join(f"{n} {s}" for s, n in sorted(states.items())) or "none", len(old_payloads))
