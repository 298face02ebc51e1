"""A source's counters, one row per partition: added up for the admin API, adopted from an older log."""

from __future__ import annotations

import sqlite3

from tests.conftest import PROBE_CONFIG, GatewayFactory

KEY = ("probe-write-key", "")
ADMIN = {"Authorization": "Bearer test-admin-key"}
OLD_TABLE = """CREATE TABLE source_stats (source VARCHAR(64) NOT NULL PRIMARY KEY, events_total BIGINT NOT NULL,
rejected_total BIGINT NOT NULL, last_event_at FLOAT, last_error VARCHAR, last_error_at FLOAT)"""


def test_counters_of_a_log_from_before_partitions_are_adopted_once(gateway_factory: GatewayFactory) -> None:
    # A log the previous release wrote keeps one counters row per source; its figures must carry over.
    gw = gateway_factory(PROBE_CONFIG, run=False)
    (gw.dir / "data").mkdir(parents=True)
    with sqlite3.connect(gw.dir / "data" / "gateway.db") as db:
        db.execute(OLD_TABLE)
        db.execute("INSERT INTO source_stats VALUES ('probe', 3000000000, 7, 1700000000.0, 'bad item', 1700000001.0)")
    db.close()
    gw.start()
    assert "the counters of 1 source(s) kept per partition" in gw.stderr()
    assert gw.post("/probe/track", json={"event": "after"}, auth=KEY).status_code == 200
    shown = gw.get("/api/v1/sources/probe", headers=ADMIN).json()["source"]
    assert shown["events_total"] == 3_000_000_001 and shown["rejected_total"] == 7, shown  # 64-bit, carried over
    assert shown["last_error"] == "bad item"
    gw.stop()
    with sqlite3.connect(gw.dir / "data" / "gateway.db") as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    db.close()
    assert "source_stats" not in tables and {"source_counts", "previous_source_stats"} <= tables
    gw.start()  # a second start finds nothing to adopt and counts nothing twice
    assert gw.stderr().count("kept per partition") == 1
    assert gw.get("/api/v1/sources/probe", headers=ADMIN).json()["source"]["events_total"] == 3_000_000_001
