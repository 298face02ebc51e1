"""Create the sink's tables, bring an older database up to date, refuse a newer one.

Plain SQLAlchemy Core throughout, so the same steps run on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection, Table, func, inspect, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from gateway import Database

from .table import EVENTS, SCHEMA_VERSION, VERSIONS


def _unique_per_source(conn: Connection) -> None:
    """1 -> 2: ``message_id`` unique per source instead of across all sources.

    The new key first, then the old one goes: cut short anywhere, the next start finds a table
    with at least one of them and finishes (the new index holds, as the old one was stricter).
    """
    conn.execute(update(EVENTS).where(EVENTS.c.source_id.is_(None)).values(source_id=""))
    for index in EVENTS.indexes:
        if index.name == "ux_events_source_message":
            index.create(conn, checkfirst=True)
    conn.exec_driver_sql("DROP INDEX IF EXISTS ux_events_message_id")


# version N -> the step that turns a version N-1 database into version N. On SQLite, DDL is
# committed as it runs, so a step must cope with finding itself half done (check first).
MIGRATIONS: dict[int, Callable[[Connection], None]] = {2: _unique_per_source}


class SchemaError(Exception):
    """The database cannot be used by this version of the sink; the message says why and what to do."""


def insert_ignoring_duplicates(table: Table, key: Sequence[str], dialect_name: str) -> Insert:
    """``INSERT ... ON CONFLICT (key) DO NOTHING``, in the dialect's own construct (both spell it alike)."""
    if dialect_name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=list(key))
    if dialect_name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=list(key))
    raise SchemaError(f"the sqlite sink supports SQLite and PostgreSQL, not {dialect_name}")


def current_version(conn: Connection) -> int | None:
    """The schema version of the database, or None when the sink never ran there."""
    tables = set(inspect(conn).get_table_names())
    if VERSIONS.name not in tables:
        if EVENTS.name in tables:
            raise SchemaError(
                f"this database has an {EVENTS.name!r} table the sqlite sink did not create "
                f"(no {VERSIONS.name!r} table); give the sink a database of its own"
            )
        return None
    version = conn.execute(select(func.max(VERSIONS.c.version))).scalar()
    return int(version) if version is not None else None


def check_readable(version: int | None, where: str) -> int:
    """Refuse a database the sink never wrote to, or one written by a newer gateway."""
    if version is None:
        raise SchemaError(f"{where} has no events table yet: start the gateway with this sink first")
    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"{where} has events schema version {version}, newer than this gateway's "
            f"{SCHEMA_VERSION}: upgrade the gateway (downgrading the schema is not supported)"
        )
    return version


def _record(conn: Connection, version: int) -> None:
    stmt = insert_ignoring_duplicates(VERSIONS, ["version"], conn.dialect.name)
    conn.execute(stmt, {"version": version, "applied_at": datetime.now(UTC)})


def _create(conn: Connection) -> None:
    """Create what is missing, version table first, every index checked on its own.

    SQLite's driver commits DDL as it goes, so a start cut short can leave part of this done;
    in this order the next start sees "no version yet" and finishes the job. Two gateways starting
    at once on one database are fine for the same reason.
    """
    VERSIONS.create(conn, checkfirst=True)
    EVENTS.create(conn, checkfirst=True)
    for index in EVENTS.indexes:
        index.create(conn, checkfirst=True)


def _prepare(conn: Connection, where: str) -> int:
    version = current_version(conn)
    if version is None:
        _create(conn)
        _record(conn, SCHEMA_VERSION)
        return SCHEMA_VERSION
    check_readable(version, where)
    for step in range(version + 1, SCHEMA_VERSION + 1):
        MIGRATIONS[step](conn)
        _record(conn, step)
    return SCHEMA_VERSION


async def prepare(database: Database, where: str) -> int:
    """Make ``database`` ready for this sink and return its schema version."""
    async with database.engine.begin() as conn:
        return await conn.run_sync(_prepare, where)


async def readable_version(database: Database, where: str) -> int:
    """The schema version of a database to read from, refusing one this code cannot read."""
    async with database.engine.connect() as conn:
        return check_readable(await conn.run_sync(current_version), where)
