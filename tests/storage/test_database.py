"""``Database``'s SQLite settings, on real files: what a new file gets and what an existing one keeps."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from sqlalchemy import text

from gateway.storage.database import Database


def page_size(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("PRAGMA page_size").fetchone()[0])


def open_and_write(directory: Path, page: int | None) -> None:
    async def go() -> None:
        database = Database("sqlite+aiosqlite:///data/x.db", base_dir=directory, page_size=page)
        try:
            async with database.engine.begin() as conn:
                await conn.execute(text("CREATE TABLE IF NOT EXISTS t (v TEXT)"))
                await conn.execute(text("INSERT INTO t VALUES ('a')"))
        finally:
            await database.dispose()

    asyncio.run(go())


def test_a_new_file_gets_the_page_size_asked_for_through_the_engine_and_in_wal_mode(tmp_path: Path) -> None:
    open_and_write(tmp_path, 16384)
    path = tmp_path / "data" / "x.db"
    assert page_size(path) == 16384
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_plain_sqlite3_connection_creates_the_file_with_it_too(tmp_path: Path) -> None:
    database = Database("sqlite+aiosqlite:///y.db", base_dir=tmp_path, page_size=8192)
    conn = database.connect_sqlite()
    try:
        conn.execute("CREATE TABLE t (v TEXT)")
    finally:
        conn.close()
        asyncio.run(database.dispose())
    assert page_size(tmp_path / "y.db") == 8192


def test_an_existing_file_keeps_its_own_page_size_and_its_rows(tmp_path: Path) -> None:
    open_and_write(tmp_path, None)  # SQLite's default
    path = tmp_path / "data" / "x.db"
    before = page_size(path)
    open_and_write(tmp_path, 16384)  # asking later changes nothing, and breaks nothing
    assert page_size(path) == before == 4096
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 2
