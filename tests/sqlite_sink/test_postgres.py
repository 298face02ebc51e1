"""The same sink on a real PostgreSQL: the suite's throwaway cluster (tests/support/postgres.py).

GATEWAY_TEST_POSTGRES_URL may name another database instead, one these tests may wipe, e.g.
``postgresql+asyncpg://postgres@127.0.0.1:5432/events_test``.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from gateway_plugins.sqlite_sink.query import EventQuery, newest_events
from gateway_plugins.sqlite_sink.schema import SchemaError
from gateway_plugins.sqlite_sink.table import METADATA, SCHEMA_VERSION
from sqlalchemy import text

from gateway.storage.database import Database
from tests.support.postgres import Postgres

from .support import EVENTS, batch, deliver

URL = ""  # the session's PostgreSQL database, set by the autouse fixture below


def sql(statement: str, **params: Any) -> list[Any]:
    async def go() -> list[Any]:
        database = Database(URL, base_dir=Path("."))
        try:
            async with database.engine.begin() as conn:
                result = await conn.execute(text(statement), params)
                return list(result) if result.returns_rows else []
        finally:
            await database.dispose()

    return asyncio.run(go())


def read(query: EventQuery) -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        database = Database(URL, base_dir=Path("."))
        try:
            return await newest_events(database, query)
        finally:
            await database.dispose()

    return asyncio.run(go())


@pytest.fixture(autouse=True)
def empty_database(postgres: Postgres, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(f"{__name__}.URL", postgres.url)
    for table in reversed(METADATA.sorted_tables):
        sql(f"DROP TABLE IF EXISTS {table.name}")


def test_events_go_in_typed_and_come_back_as_delivered(tmp_path: Path) -> None:
    odd = {**EVENTS["track"], "messageId": "m-odd", "userId": 7, "experiment": {"arm": "B"}}
    events = [*EVENTS.values(), odd]
    deliver(tmp_path, batch(events), url=URL)
    assert read(EventQuery(limit=100)) == events[::-1]
    [(ts, received, note, kind)] = sql(
        "SELECT timestamp, received_at, properties->>'note', pg_typeof(properties)::text"
        " FROM events WHERE message_id = 'm-track'"
    )
    assert ts == datetime(2024, 5, 1, 9, 59, 58, 500000, tzinfo=UTC)
    assert received == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert (note, kind) == ("café", "jsonb")


def test_a_redelivered_batch_adds_no_rows(tmp_path: Path) -> None:
    events = list(EVENTS.values())
    again = {**events[0], "event": "Order Refunded"}
    deliver(tmp_path, batch(events[:4]), batch([*events[:4], again]), batch(events[2:]), url=URL)
    stored = [r[0] for r in sql("SELECT message_id FROM events ORDER BY id")]
    assert stored == [e["messageId"] for e in events]
    assert sql("SELECT event FROM events WHERE message_id = 'm-track'") == [("Order Completed",)]


def test_filters_and_newest_first(tmp_path: Path) -> None:
    deliver(tmp_path, batch(list(EVENTS.values())), url=URL)
    got = read(EventQuery(user="u1", limit=3))
    assert [e["messageId"] for e in got] == ["m-alias", "m-group", "m-identify"]
    assert [e["messageId"] for e in read(EventQuery(user="a2"))] == ["m-page"]
    assert [e["messageId"] for e in read(EventQuery(type="track", event="Order Completed"))] == ["m-track"]


def test_a_database_from_a_newer_gateway_is_refused(tmp_path: Path) -> None:
    deliver(tmp_path, url=URL)
    sql("INSERT INTO events_schema_version VALUES (:v, now())", v=SCHEMA_VERSION + 1)
    with pytest.raises(SchemaError, match="newer than"):
        deliver(tmp_path, url=URL)


def test_nul_characters_do_not_block_the_sink(tmp_path: Path) -> None:
    # PostgreSQL refuses U+0000 in text and JSONB: the sink stores U+FFFD there instead
    nul = {**EVENTS["track"], "messageId": "m-nul", "event": "a\x00b", "properties": {"k\x00": ["\x00"]}}
    deliver(tmp_path, batch([EVENTS["page"], nul]), url=URL)
    [event, page] = read(EventQuery())
    assert page == EVENTS["page"]
    assert event == {**nul, "event": "a\ufffdb", "properties": {"k\ufffd": ["\ufffd"]}}



def test_values_too_long_for_an_index_do_not_block_the_sink(tmp_path: Path) -> None:
    long = {**EVENTS["track"], "messageId": "m" * 3000, "event": "é" * 3000, "anonymousId": "a" * 3000}
    deliver(tmp_path, batch([long]), batch([long]), url=URL)
    assert read(EventQuery()) == [long]


def test_ids_are_unique_per_source_and_repeats_are_counted(tmp_path: Path) -> None:
    from .test_per_source import OTHER, duplicates_of

    theirs = {**EVENTS["track"], "event": "Fake", "source": OTHER}
    assert duplicates_of(tmp_path, batch([theirs]), batch([EVENTS["track"], EVENTS["track"]]),
                         url=URL) == [0, 1]
    assert sorted(sql("SELECT source_name, event FROM events")) == [("backend", "Order Completed"),
                                                                   ("crm", "Fake")]
