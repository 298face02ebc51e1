"""Message ids are unique per source (schema version 2): the key, its migration, and duplicates counted."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from gateway_plugins.sqlite_sink.table import SCHEMA_VERSION

from gateway import Batch

from .support import EVENTS, SOURCE, batch, deliver, make_sink, reader, rows

OTHER = {"id": "0b7a6c2e-0000-4000-8000-000000000002", "name": "crm", "dialect": "filum"}


def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "events.db"


def duplicates_of(config_dir: Path, *batches: Batch, url: str = "sqlite+aiosqlite:///data/events.db") -> list[int]:
    """Deliver in order, as the engine does, and say how many each batch's sink call skipped."""

    async def go() -> list[int]:
        sink = make_sink(config_dir, url)
        await sink.start()
        try:
            found = []
            for b in batches:
                await sink.deliver(b)
                found.append(b.duplicates)
            return found
        finally:
            await sink.stop()

    return asyncio.run(go())


def test_the_same_id_in_two_sources_is_two_events(tmp_path: Path) -> None:
    mine = EVENTS["track"]
    theirs = {**mine, "event": "Fake", "source": OTHER}
    assert duplicates_of(tmp_path, batch([theirs]), batch([mine])) == [0, 0]
    got = [(r["source_name"], r["message_id"], r["event"]) for r in rows(db(tmp_path))]
    assert got == [("crm", "m-track", "Fake"), ("backend", "m-track", "Order Completed")]


def test_skipped_repeats_are_reported_on_the_batch(tmp_path: Path) -> None:
    events = list(EVENTS.values())
    again = {**events[0], "event": "Order Refunded"}  # same source, same id: a repeat
    assert duplicates_of(tmp_path, batch(events[:3]), batch([*events[:3], *events[3:]]),
                         batch([again, again])) == [0, 3, 2]
    assert len(rows(db(tmp_path))) == len(events)


def test_an_event_without_a_source_id_is_still_deduplicated(tmp_path: Path) -> None:
    bare = {k: v for k, v in EVENTS["page"].items() if k != "source"}
    assert duplicates_of(tmp_path, batch([bare]), batch([bare])) == [0, 1]
    (row,) = rows(db(tmp_path))
    assert row["source_id"] == "" and row["source_name"] is None


def test_a_version_1_database_is_migrated_to_per_source_ids(tmp_path: Path) -> None:
    deliver(tmp_path, batch([EVENTS["track"], {k: v for k, v in EVENTS["page"].items() if k != "source"}]))
    with reader(db(tmp_path)) as conn:  # what a version 1 sink left: one key across all sources
        conn.execute("DROP INDEX ux_events_source_message")
        conn.execute("CREATE UNIQUE INDEX ux_events_message_id ON events (message_id)")
        conn.execute("UPDATE events SET source_id = NULL WHERE source_id = ''")
        conn.execute("DELETE FROM events_schema_version")
        conn.execute("INSERT INTO events_schema_version VALUES (1, '2026-01-01 00:00:00.000000')")
    theirs = {**EVENTS["track"], "event": "Fake", "source": OTHER}
    assert duplicates_of(tmp_path, batch([EVENTS["track"], theirs])) == [1]
    with reader(db(tmp_path)) as conn:
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        versions = [r[0] for r in conn.execute("SELECT version FROM events_schema_version ORDER BY version")]
    assert "ux_events_source_message" in indexes and "ux_events_message_id" not in indexes
    assert versions == [1, SCHEMA_VERSION] == [1, 2]
    got = [(r["source_id"], r["message_id"], r["event"]) for r in rows(db(tmp_path))]
    assert got == [(SOURCE["id"], "m-track", "Order Completed"), ("", "m-page", None),
                   (OTHER["id"], "m-track", "Fake")]


def test_rows_read_back_with_their_source(tmp_path: Path) -> None:
    from gateway_plugins.sqlite_sink.query import EventQuery, newest_events

    theirs = {**EVENTS["track"], "source": OTHER}
    deliver(tmp_path, batch([EVENTS["track"], theirs]))

    async def read() -> list[dict[str, Any]]:
        sink = make_sink(tmp_path)
        await sink.start()
        try:
            assert sink.database is not None
            return await newest_events(sink.database, EventQuery(limit=10))
        finally:
            await sink.stop()

    assert asyncio.run(read()) == [theirs, EVENTS["track"]]
