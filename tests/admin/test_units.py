"""The admin package's pure parts and its one clever query, on a real SQLite file."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from gateway.admin.keys import hint, masked_settings, rotated_secrets
from gateway.admin.stats import first_seq_since, recent_counts
from gateway.dialects import Dialect, DialectRoute, Unpacked
from gateway.storage.database import Database
from gateway.storage.tables import core_metadata, log_table


def dialect(**kwargs: object) -> Dialect:
    return Dialect(name="d", routes=[DialectRoute("/d")], auth=("bearer",), item_schema={},
                   unpack=lambda body, route: Unpacked([body], False), map=lambda item, ctx: [],
                   credentials=lambda s: [s["write_key"]],
                   source_schema={"properties": {"write_key": {"type": "string"}, "api_key": {"type": "string"},
                                                 "server_token": {"type": "string"}},
                                  "required": ["write_key"]}, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("value", "shown"), [
    ("abcdefghijklmnop", "…mnop"), ("short-key", "…"), ("", "…"), ("123456789012", "…9012")])
def test_hint_shows_at_most_the_last_four_characters(value: str, shown: str) -> None:
    assert hint(value) == shown


def test_masked_settings_hide_only_secret_fields() -> None:
    d = dialect(secret_fields=("server_token",))
    settings = {"name": "n", "dialect": "d", "api_key": "UMpublic", "server_token": "sec_0123456789abcdef"}
    assert masked_settings(settings, d) == {"api_key": "UMpublic", "server_token": "…cdef"}


def test_rotation_renews_the_secret_fields_only() -> None:
    d = dialect(secret_fields=("server_token",),
                generate_credentials=lambda: {"api_key": "UMnew", "server_token": "sec_new"})
    assert rotated_secrets(d) == {"server_token": "sec_new"}
    plain = dialect()
    fresh = rotated_secrets(plain)
    assert set(fresh) == {"write_key"} and len(fresh["write_key"]) >= 24
    assert fresh != rotated_secrets(plain)


async def _log_with(tmp_path: Path, rows: list[tuple[int, str, float]]) -> Database:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'log.db'}", tmp_path)
    await database.create_all(core_metadata)
    if rows:
        async with database.engine.begin() as conn:
            await conn.execute(log_table.insert(), [
                {"seq": seq, "source": source, "received_at": at, "event": b"{}"} for seq, source, at in rows])
    return database


def test_first_seq_since_bisects_across_gaps(tmp_path: Path) -> None:
    now = time.time()
    # seq gaps (pruned or rolled back) and a jump in time between 7 and 30
    rows = [(seq, "a", now - 90000 + seq) for seq in (1, 2, 5, 6, 7)] + \
           [(seq, "b" if seq % 2 else "a", now - 100 + seq) for seq in range(30, 41)]

    async def check() -> None:
        database = await _log_with(tmp_path, rows)
        try:
            async with database.engine.connect() as conn:
                assert await first_seq_since(conn, now - 86400) == 30
                assert await first_seq_since(conn, now - 95000) == 1
                assert await first_seq_since(conn, now - 89996) == 5
                assert await first_seq_since(conn, now - 65) == 35
                assert await first_seq_since(conn, now + 1) is None
            assert await recent_counts(database) == {"a": 6, "b": 5}
            assert await recent_counts(database, {"a": 36}) == {"a": 2, "b": 5}
        finally:
            await database.dispose()

    asyncio.run(check())


def test_first_seq_since_on_an_empty_log(tmp_path: Path) -> None:
    async def check() -> None:
        database = await _log_with(tmp_path, [])
        try:
            async with database.engine.connect() as conn:
                assert await first_seq_since(conn, 0) is None
            assert await recent_counts(database) == {}
        finally:
            await database.dispose()

    asyncio.run(check())
