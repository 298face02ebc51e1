"""Through HTTP into a real SQLite file: a real gateway, the segment_style dialect, the sqlite sink."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from gateway_plugins.sqlite_sink.rows import to_event

from tests.support.server import RunningGateway, wait_until

from .support import GATEWAY_CONFIG, count_rows, reader, rows, sqlite_sink_table

CONFIG = GATEWAY_CONFIG + sqlite_sink_table()
BACKEND = ("wk_backend", "")
LIBRARY = {"name": "analytics-python", "version": "2.3.2"}
# The client's clock is 1.5 s behind: the core corrects timestamp by sentAt - originalTimestamp.
CLIENT = {"timestamp": "2024-05-01T11:59:58.500+02:00", "sentAt": "2024-05-01T12:00:00.000+02:00"}

REQUESTS: dict[str, dict[str, Any]] = {
    "track": {"event": "Order Completed", "userId": "u1", "anonymousId": "a1",
              "properties": {"total": 39.5, "currency": "EUR"}, "integrations": {"All": False}},
    "identify": {"userId": "u1", "traits": {"email": "ada@example.com"}},
    "page": {"name": "Pricing", "anonymousId": "a2", "properties": {"path": "/pricing"}},
    "screen": {"name": "Home", "userId": "u2", "properties": {"tab": 1}},
    "group": {"groupId": "g1", "userId": "u1", "traits": {"name": "Acme"}},
    "alias": {"previousId": "a1", "userId": "u1"},
}
TEXT_COLUMNS = {"event": "event", "name": "name", "userId": "user_id", "anonymousId": "anonymous_id",
                "groupId": "group_id", "previousId": "previous_id"}
JSON_COLUMNS = {"properties": "properties", "traits": "traits", "integrations": "integrations"}


def db(gw: RunningGateway) -> Any:
    return gw.dir / "data" / "events.db"


def wait_for_rows(gw: RunningGateway, n: int, where: str = "1 = 1", params: tuple[Any, ...] = ()) -> None:
    wait_until(lambda: count_rows(db(gw), where, params) >= n, timeout=20,
               message=f"{n} rows where {where} {params}")


def post_batch(gw: RunningGateway, items: list[dict[str, Any]], auth: tuple[str, str] = BACKEND) -> None:
    r = gw.post("/v1/batch", json={"batch": items}, auth=auth)
    assert r.status_code == 200, r.text


def sql_time(text: str) -> datetime:
    return datetime.fromisoformat(text)  # naive, UTC: SQLite's own spelling


def test_every_column_is_filled_right_for_each_type(gateway_factory: Any) -> None:
    gw = gateway_factory(CONFIG)
    items = [{"type": kind, "messageId": f"http-{kind}", **fields, **CLIENT,
              "context": {"library": LIBRARY}}
             for kind, fields in REQUESTS.items()]
    post_batch(gw, items)
    printed = {e["messageId"]: e for e in gw.wait_for_stdout_events(len(items))}
    wait_for_rows(gw, len(items))

    stored = {row["message_id"]: row for row in rows(db(gw))}
    assert sorted(stored) == sorted(printed)
    for kind, fields in REQUESTS.items():
        row, event = stored[f"http-{kind}"], printed[f"http-{kind}"]
        assert row["type"] == kind
        for key, column in TEXT_COLUMNS.items():
            assert row[column] == fields.get(key), (kind, column)
        for key, column in JSON_COLUMNS.items():
            value = row[column]
            assert (orjson.loads(value) if value is not None else None) == fields.get(key), (kind, column)
        assert orjson.loads(row["context"]) == {"library": LIBRARY, "ip": "127.0.0.1"}
        assert (row["source_name"], row["dialect"]) == ("backend", "segment_style")
        assert row["source_id"] == event["source"]["id"]
        assert (row["original_timestamp"], row["sent_at"]) == (CLIENT["timestamp"], CLIENT["sentAt"])
        received = sql_time(row["received_at"])
        assert received == datetime.fromisoformat(event["receivedAt"]).replace(tzinfo=None)
        assert received - sql_time(row["timestamp"]) == timedelta(seconds=1.5)
        assert row["extra"] is None
        # and nothing is lost: the row gives back the very event the stdout sink printed
        assert to_event(_typed(row)) == event


def _typed(row: dict[str, Any]) -> dict[str, Any]:
    """A sqlite3 row as SQLAlchemy would give it (parsed JSON, aware UTC datetimes)."""
    out = dict(row)
    for column in ("properties", "traits", "context", "integrations", "extra"):
        out[column] = orjson.loads(row[column]) if row[column] is not None else None
    for column in ("timestamp", "received_at"):
        out[column] = sql_time(row[column]).replace(tzinfo=UTC)
    return out


def test_resent_requests_and_a_replaying_sink_leave_one_row_per_event(gateway_factory: Any) -> None:
    gw = gateway_factory(CONFIG)
    items = [{"type": "track", "event": f"E{i}", "userId": "u1", "messageId": f"dup-{i}"} for i in range(50)]
    post_batch(gw, items)
    post_batch(gw, items[:20])  # an SDK resending a request whose answer it never saw
    post_batch(gw, [{"type": "track", "event": "marker", "userId": "u1", "messageId": "marker-1"}])
    wait_for_rows(gw, 1, "message_id = ?", ("marker-1",))
    assert count_rows(db(gw)) == 51

    # A sink with a new name has no cursor: it delivers the whole log again into the same file.
    gw.stop()
    gw.config_path.write_text(gw.config_path.read_text().replace('"events-db"', '"events-db-replay"'))
    gw.start()
    post_batch(gw, [{"type": "track", "event": "marker", "userId": "u1", "messageId": "marker-2"}])
    wait_for_rows(gw, 1, "message_id = ?", ("marker-2",))  # delivery is in log order: all before it too
    assert count_rows(db(gw)) == 52
    got = [r["message_id"] for r in rows(db(gw))]
    assert got == [f"dup-{i}" for i in range(50)] + ["marker-1", "marker-2"]


def test_another_connection_sees_committed_rows_while_the_gateway_runs(gateway_factory: Any) -> None:
    gw = gateway_factory(CONFIG)
    post_batch(gw, [{"type": "identify", "userId": f"r{i}"} for i in range(3)])
    wait_for_rows(gw, 3)
    with reader(db(gw)) as held, reader(db(gw)) as watcher:
        held.execute("BEGIN")
        assert held.execute("SELECT count(*) FROM events").fetchone()[0] == 3
        # The held read transaction must not stop the sink from committing (WAL).
        post_batch(gw, [{"type": "identify", "userId": f"s{i}"} for i in range(5)])
        wait_until(lambda: watcher.execute("SELECT count(*) FROM events").fetchone()[0] == 8, timeout=20,
                   message="the watcher sees 8 rows")
        assert held.execute("SELECT count(*) FROM events").fetchone()[0] == 3
        held.execute("COMMIT")
        users = [r[0] for r in held.execute("SELECT user_id FROM events ORDER BY id")]
        assert users == ["r0", "r1", "r2", "s0", "s1", "s2", "s3", "s4"]
    assert not _write_locked(db(gw))


def _write_locked(path: Any) -> bool:
    """True if the gateway left the database locked for other writers (it must not, between batches)."""
    conn = sqlite3.connect(path, timeout=5)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        conn.close()


def test_a_database_from_a_newer_gateway_is_left_alone_and_said_so(gateway_factory: Any) -> None:
    gw = gateway_factory(CONFIG, run=False)
    db(gw).parent.mkdir(parents=True)
    conn = sqlite3.connect(db(gw))
    conn.execute("CREATE TABLE events_schema_version (version INTEGER PRIMARY KEY, applied_at TEXT)")
    conn.execute("INSERT INTO events_schema_version VALUES (99, '2030-01-01')")
    conn.commit()
    conn.close()
    try:
        gw.start()
    except RuntimeError:
        pass  # refusing to start at all is as good an answer as running without this sink
    else:
        post_batch(gw, [{"type": "track", "event": "kept in the log", "userId": "u1"}])
        gw.wait_for_stdout_events(1)  # the other sink goes on
    gw.stop()
    assert "has events schema version 99, newer than this gateway's" in gw.stderr()
    with reader(db(gw)) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"events_schema_version"}
