"""The sink on a real SQLite file, driven as the delivery engine drives it; read back with sqlite3."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest
from gateway_plugins.sqlite_sink import schema
from gateway_plugins.sqlite_sink import sink as sink_module
from gateway_plugins.sqlite_sink.query import EventQuery, newest_events
from gateway_plugins.sqlite_sink.schema import SchemaError
from gateway_plugins.sqlite_sink.table import SCHEMA_VERSION

from .support import CONTEXT, EVENTS, SOURCE, batch, deliver, make_sink, reader, rows

COMMON = {
    "timestamp": "2024-05-01 09:59:58.500000",  # UTC, in SQLite's own datetime() spelling
    "received_at": "2024-05-01 10:00:00.000000",
    "original_timestamp": "2024-05-01T11:59:59.000+02:00",
    "sent_at": "2024-05-01T12:00:00.500+02:00",
    "source_id": SOURCE["id"],
    "source_name": "backend",
    "dialect": "segment_style",
    "context": CONTEXT,
    "extra": None,
}
NONE = dict.fromkeys(
    ("event", "name", "user_id", "anonymous_id", "group_id", "previous_id",
     "properties", "traits", "integrations")
)
EXPECTED: dict[str, dict[str, Any]] = {
    "track": {"event": "Order Completed", "user_id": "u1", "anonymous_id": "a1",
              "properties": EVENTS["track"]["properties"], "integrations": {"All": False}},
    "identify": {"user_id": "u1", "traits": {"email": "ada@example.com", "plan": "pro"}},
    "page": {"name": "Pricing", "anonymous_id": "a2", "properties": {"path": "/pricing"}},
    "screen": {"name": "Home", "user_id": "u2", "properties": {"tab": 1}},
    "group": {"group_id": "g1", "user_id": "u1", "traits": {"name": "Acme"}},
    "alias": {"previous_id": "a1", "user_id": "u1"},
}
JSON_COLUMNS = ("properties", "traits", "context", "integrations", "extra")


def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "events.db"


def stored(path: Path) -> dict[str, dict[str, Any]]:
    found = {}
    for row in rows(path):
        for column in JSON_COLUMNS:
            row[column] = None if row[column] is None else orjson.loads(row[column])
        found[row.pop("type")] = row
    return found


def test_every_column_is_filled_right_for_each_type(tmp_path: Path) -> None:
    deliver(tmp_path, batch(list(EVENTS.values())))
    got = stored(db(tmp_path))
    assert sorted(got) == sorted(EVENTS)
    for kind, row in got.items():
        assert isinstance(row.pop("id"), int)
        assert row == {**NONE, **COMMON, **EXPECTED[kind], "message_id": f"m-{kind}"}, kind


def test_json_columns_are_plain_json_text_for_sqlite_tools(tmp_path: Path) -> None:
    deliver(tmp_path, batch([EVENTS["track"]]))
    with reader(db(tmp_path)) as conn:
        raw, total, note, lib = conn.execute(
            "SELECT properties, json_extract(properties, '$.total'), properties ->> '$.note',"
            " json_extract(context, '$.library.name') FROM events"
        ).fetchone()
    assert "café" in raw  # readable, not \u-escaped
    assert (total, note, lib) == (39.5, "café", "analytics-python")


def test_time_columns_compare_with_sqlite_datetime(tmp_path: Path) -> None:
    deliver(tmp_path, batch(list(EVENTS.values())))
    with reader(db(tmp_path)) as conn:
        before = conn.execute("SELECT count(*) FROM events WHERE timestamp < datetime('2024-05-01 10:00:00')")
        after = conn.execute("SELECT count(*) FROM events WHERE timestamp >= datetime('2024-05-01 10:00:00')")
        assert (before.fetchone()[0], after.fetchone()[0]) == (6, 0)


def test_a_redelivered_batch_adds_no_rows(tmp_path: Path) -> None:
    events = list(EVENTS.values())
    # the engine retries a batch whose commit it did not see, then carries on with the next one
    deliver(tmp_path, batch(events[:4]), batch(events[:4]), batch(events[2:]))
    got = rows(db(tmp_path))
    assert [r["message_id"] for r in got] == [e["messageId"] for e in events]
    assert [r["id"] for r in got] == sorted(r["id"] for r in got)


def test_a_message_id_seen_twice_in_one_batch_keeps_the_first(tmp_path: Path) -> None:
    first = EVENTS["track"]
    again = {**first, "event": "Order Refunded"}
    deliver(tmp_path, batch([first, EVENTS["page"], again]))
    got = rows(db(tmp_path))
    assert [(r["message_id"], r["event"]) for r in got] == [("m-track", "Order Completed"), ("m-page", None)]


def read_back(config_dir: Path) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        sink = make_sink(config_dir)
        await sink.start()
        try:
            assert sink.database is not None
            return await newest_events(sink.database, EventQuery(limit=100))
        finally:
            await sink.stop()

    return asyncio.run(read())


def test_events_read_back_as_delivered_newest_first(tmp_path: Path) -> None:
    odd = {**EVENTS["track"], "messageId": "m-odd", "userId": 7, "experiment": {"arm": "B"},
           "timestamp": "2024-05-01T11:59:58+02:00"}
    events = [*EVENTS.values(), odd]
    deliver(tmp_path, batch(events))
    assert read_back(tmp_path) == events[::-1]


def test_a_reader_in_a_transaction_does_not_block_the_sink(tmp_path: Path) -> None:
    events = list(EVENTS.values())
    deliver(tmp_path, batch(events[:3]))
    with reader(db(tmp_path)) as held, reader(db(tmp_path)) as fresh:
        held.execute("BEGIN")
        assert held.execute("SELECT count(*) FROM events").fetchone()[0] == 3
        deliver(tmp_path, batch(events[3:]))  # WAL: commits while the read transaction stays open
        assert held.execute("SELECT count(*) FROM events").fetchone()[0] == 3  # its snapshot
        assert fresh.execute("SELECT count(*) FROM events").fetchone()[0] == 6
        held.execute("COMMIT")
        assert held.execute("SELECT count(*) FROM events").fetchone()[0] == 6


def test_restarting_keeps_the_schema_and_its_version(tmp_path: Path) -> None:
    deliver(tmp_path, batch([EVENTS["track"]]))
    deliver(tmp_path, batch([EVENTS["page"]]))
    with reader(db(tmp_path)) as conn:
        versions = [tuple(r) for r in conn.execute("SELECT version FROM events_schema_version")]
        assert versions == [(SCHEMA_VERSION,)]
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 2
    assert {"ux_events_source_message", "ix_events_timestamp", "ix_events_user_id", "ix_events_event"} <= indexes


def test_a_database_from_a_newer_gateway_is_refused(tmp_path: Path) -> None:
    deliver(tmp_path, batch([EVENTS["track"]]))
    with reader(db(tmp_path)) as conn:
        conn.execute("INSERT INTO events_schema_version VALUES (?, '2030-01-01')", (SCHEMA_VERSION + 1,))
    with pytest.raises(SchemaError, match=rf"schema version {SCHEMA_VERSION + 1}, newer than .* upgrade"):
        deliver(tmp_path)


def test_an_events_table_of_someone_else_is_refused(tmp_path: Path) -> None:
    db(tmp_path).parent.mkdir()
    conn = sqlite3.connect(db(tmp_path))
    conn.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, body BLOB)")
    conn.close()
    with pytest.raises(SchemaError, match="did not create"):
        deliver(tmp_path, batch([EVENTS["track"]]))


def test_an_older_database_is_migrated_step_by_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    deliver(tmp_path, batch([EVENTS["track"]]))
    steps: list[int] = []

    def step(version: int) -> Any:
        def run(conn: Any) -> None:
            steps.append(version)
            conn.exec_driver_sql(f"CREATE TABLE step_{version} (x INTEGER)")
        return run

    newer = SCHEMA_VERSION + 2
    monkeypatch.setattr(schema, "SCHEMA_VERSION", newer)
    migrations = {SCHEMA_VERSION + 1: step(SCHEMA_VERSION + 1), newer: step(newer)}
    monkeypatch.setattr(schema, "MIGRATIONS", migrations)
    deliver(tmp_path, batch([EVENTS["page"]]))
    deliver(tmp_path)
    assert steps == [SCHEMA_VERSION + 1, newer]
    with reader(db(tmp_path)) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM events_schema_version ORDER BY version")]
    assert versions == [SCHEMA_VERSION, SCHEMA_VERSION + 1, newer]


def test_a_start_cut_short_is_finished_by_the_next(tmp_path: Path) -> None:
    deliver(tmp_path, batch([EVENTS["track"]]))
    with reader(db(tmp_path)) as conn:  # as if killed after the tables, before an index and the version
        conn.execute("DROP INDEX ix_events_event")
        conn.execute("DELETE FROM events_schema_version")
    deliver(tmp_path, batch([EVENTS["page"]]))
    with reader(db(tmp_path)) as conn:
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'ix_events_event'").fetchone()[0]
        assert [r[0] for r in conn.execute("SELECT version FROM events_schema_version")] == [SCHEMA_VERSION]
    assert [r["message_id"] for r in rows(db(tmp_path))] == ["m-track", "m-page"]


def test_sqlite_keeps_nul_characters(tmp_path: Path) -> None:
    nul = {**EVENTS["track"], "event": "a\x00b", "properties": {"k\x00": ["\x00"]}}
    deliver(tmp_path, batch([nul]))
    assert [r["event"] for r in rows(db(tmp_path))] == ["a\x00b"]
    assert read_back(tmp_path) == [nul]


def test_a_new_events_file_has_the_sinks_page_size(tmp_path: Path) -> None:
    deliver(tmp_path, batch([EVENTS["track"]]))
    with reader(db(tmp_path)) as conn:
        assert conn.execute("PRAGMA page_size").fetchone()[0] == sink_module.PAGE_SIZE == 16384


def test_an_events_file_made_with_other_pages_is_written_as_it_is(tmp_path: Path) -> None:
    """A file an older gateway made (4 KiB pages) is not converted, and takes events as before."""
    path = db(tmp_path)
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA page_size=4096")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE unrelated (x)")
    deliver(tmp_path, batch([EVENTS["track"], EVENTS["page"]]))
    deliver(tmp_path, batch([EVENTS["track"], EVENTS["identify"]], first_seq=3))
    with reader(path) as conn:
        assert conn.execute("PRAGMA page_size").fetchone()[0] == 4096
    assert [r["message_id"] for r in rows(path)] == ["m-track", "m-page", "m-identify"]
