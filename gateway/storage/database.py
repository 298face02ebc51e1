"""One way to open a database: SQLite (WAL) by default, PostgreSQL by URL.

Everything SQLite-specific (pragmas, file paths) lives here, so the rest of the code stays
portable SQL through SQLAlchemy Core.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

# Short, because callers retry on their own terms (the log writer answers 503 after its own deadline).
SQLITE_BUSY_TIMEOUT_MS = 500
IDLE_IN_TRANSACTION_MS = 4000
LOCK_TIMEOUT_MS = 2000


def resolve_url(url: str, base_dir: Path) -> str:
    """Resolve a relative SQLite path against ``base_dir`` (the config file's folder) and make its folder."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite"):
        return url
    database = parsed.database
    if not database or database == ":memory:":
        return url
    path = Path(database)
    if not path.is_absolute():
        path = (base_dir / path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return parsed.set(database=str(path)).render_as_string(hide_password=False)


def state_url(url: str) -> str:
    """Where the delivery state lives: on SQLite a file beside the log (``gateway.db`` ->
    ``gateway-delivery.db``), so the log's writer never waits on delivery's; elsewhere the log's database."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or not parsed.database or parsed.database == ":memory:":
        return url
    path = Path(parsed.database)
    return parsed.set(database=str(path.with_name(f"{path.stem}-delivery{path.suffix or '.db'}"))
                      ).render_as_string(hide_password=False)


class Database:
    """An async SQLAlchemy engine with the settings this project relies on."""

    def __init__(self, url: str, base_dir: Path, *, synchronous: str = "FULL", pool_size: int = 5,
                 wal_autocheckpoint: int | None = None, page_size: int | None = None) -> None:
        self.url = resolve_url(url, base_dir)
        self.is_sqlite = make_url(self.url).drivername.startswith("sqlite")
        self.synchronous = synchronous
        self.wal_autocheckpoint = wal_autocheckpoint  # pages; None: SQLite's default (1000)
        # bytes, for a SQLite file this creates (an existing file keeps its own); None: SQLite's (4096)
        self.page_size = page_size
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            # A prepared statement keeps the values last bound to it until it runs again: with the
            # sqlite3 module's cache of them, each pooled connection kept the last megabyte body a
            # sink stored (measured 6.7 MB each). Preparing afresh costs microseconds per statement,
            # and the hot paths (the log's commits and reads) use connections of their own.
            kwargs["connect_args"] = {"cached_statements": 0}
        else:
            kwargs["pool_size"] = pool_size
            if make_url(self.url).drivername.endswith("asyncpg"):
                # A paused or cut-off process must not hold row locks (a lease's, a partition's) for
                # longer than a lease: the server ends its transaction; nobody waits long on a lock.
                kwargs["connect_args"] = {"server_settings": {
                    "idle_in_transaction_session_timeout": str(IDLE_IN_TRANSACTION_MS),
                    "lock_timeout": str(LOCK_TIMEOUT_MS)}}
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            self._sqlite_pragmas()

    @property
    def path(self) -> Path | None:
        """The SQLite file, when this is one."""
        if not self.is_sqlite:
            return None
        database = make_url(self.url).database
        return Path(database) if database and database != ":memory:" else None

    def now_sql(self) -> str:
        """The database's clock in seconds since the epoch: leases are timed by it, never by a host's."""
        if self.is_sqlite:
            return "SELECT (julianday('now') - 2440587.5) * 86400.0"
        return "SELECT extract(epoch from clock_timestamp())::float8"

    def _sqlite_pragmas(self) -> None:
        @event.listens_for(self.engine.sync_engine, "connect")
        def on_connect(dbapi_connection: Any, _record: Any) -> None:
            _set_pragmas(dbapi_connection, self.synchronous, self.wal_autocheckpoint, self.page_size)

    def connect_sqlite(self) -> sqlite3.Connection:
        """A plain ``sqlite3`` connection to this SQLite file with the engine's pragmas, in autocommit
        mode (transactions are begun explicitly), usable from one thread of the caller's choice."""
        assert self.path is not None, "connect_sqlite needs a SQLite file"
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        _set_pragmas(conn, self.synchronous, self.wal_autocheckpoint, self.page_size)
        return conn

    async def create_all(self, metadata: MetaData) -> None:
        """Create missing tables. Several worker processes may start at once on a fresh database:
        the loser of the race between "is it there?" and "create it" tries again and finds it."""
        for attempt in range(5):
            try:
                async with self.engine.begin() as conn:
                    await conn.run_sync(metadata.create_all)
                return
            except DBAPIError as exc:
                if "already exists" not in str(exc) or attempt == 4:
                    raise
                await asyncio.sleep(0.05 * (attempt + 1))

    async def dispose(self) -> None:
        await self.engine.dispose()


def _set_pragmas(dbapi_connection: Any, synchronous: str, wal_autocheckpoint: int | None = None,
                 page_size: int | None = None) -> None:
    cursor = dbapi_connection.cursor()
    if page_size is not None:
        # Before journal_mode: only a file with no table yet takes it, and WAL mode would fix it first.
        cursor.execute(f"PRAGMA page_size={int(page_size)}")
    # WAL lets readers (sinks, admin API, sqlite3 shells) run while the writer commits.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA synchronous={synchronous}")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    if wal_autocheckpoint is not None:
        cursor.execute(f"PRAGMA wal_autocheckpoint={int(wal_autocheckpoint)}")
    cursor.close()


def dialect_insert(database: Database, table: Any) -> Any:
    """An INSERT that supports ``on_conflict_do_nothing`` / ``on_conflict_do_update`` on both backends."""
    if database.is_sqlite:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    return pg_insert(table)
