"""The durable log does not answer 200 on files it cannot trust, and /ready says whether it can write.

From the repro: deleting ``data/gateway.db-wal`` while the gateway ran kept every answer 200 and
``/ready`` 200, and the next crash lost all 500 events acknowledged since; while the log's files
could not be written requests got 503 but ``/ready`` still answered 200; a SIGBUS (the SQLite sink's
-shm file shrinking under its mapping) ended the whole gateway without a word.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from typing import Any

import pytest

from tests.reliability.support import ADMIN, assert_json_error, config, log_ids, post_events, sink_ids, sqlite_sink
from tests.support.server import RunningGateway, wait_until

pytestmark = pytest.mark.timeout(180)


def test_a_deleted_wal_is_refused_with_503_and_nothing_acknowledged_is_lost(gateway_factory: Any) -> None:
    gw: RunningGateway = gateway_factory(config())
    acknowledged = [f"before-{i}" for i in range(500)]
    for start in range(0, 500, 100):
        assert post_events(gw.client, "filum", acknowledged[start:start + 100]).status_code == 200
    wal = gw.dir / "data" / "gateway.db-wal"
    assert wal.exists()
    wal.unlink()  # the careless clean-up

    r = post_events(gw.client, "filum", ["after-1"])
    body = assert_json_error(r, 503)
    assert body["code"] == "log_files_changed" and "Retry-After" in r.headers, body
    ready = gw.get("/ready")
    assert ready.status_code == 503 and "gateway.db-wal" in ready.json()["detail"], ready.text
    assert post_events(gw.client, "segment_style", ["after-2"]).status_code == 503  # every dialect, every time
    assert "gateway.db-wal vanished or was replaced" in gw.stderr()

    gw.kill()
    gw.start()
    assert gw.get("/ready").status_code == 200
    ids = log_ids(gw.dir / "data" / "gateway.db")
    assert set(acknowledged) <= ids, f"{len(set(acknowledged) - ids)} acknowledged events lost"
    assert not {"after-1", "after-2"} & ids
    assert post_events(gw.client, "filum", ["after-restart"]).status_code == 200


def test_ready_answers_503_while_the_log_cannot_write_and_recovers_by_itself(gateway_factory: Any) -> None:
    gw: RunningGateway = gateway_factory(config(storage={"unavailable_after_seconds": 1}))
    assert post_events(gw.client, "filum", ["warm"]).status_code == 200
    holder = sqlite3.connect(gw.dir / "data" / "gateway.db", isolation_level=None, timeout=1)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the log's write lock
    try:
        assert_json_error(post_events(gw.client, "filum", ["locked"]), 503)
        ready = gw.get("/ready", timeout=30)
        assert ready.status_code == 503 and ready.headers["Retry-After"], ready.text
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    # Nobody posts (a load balancer stops sending to a gateway that is not ready): /ready probes.
    wait_until(lambda: gw.get("/ready", timeout=30).status_code == 200, timeout=30, message="ready again")
    assert post_events(gw.client, "filum", ["unlocked"]).status_code == 200


def _sink_caught_up(gw: RunningGateway) -> bool:
    """The sink's cursor has reached the log's last seq (read from the log itself, so an older status
    snapshot taken before the last post cannot pass)."""
    with sqlite3.connect(gw.dir / "data" / "gateway.db") as log:
        last = log.execute("SELECT max(seq) FROM event_log").fetchone()[0]
    leases = gw.get("/api/v1/status", headers=ADMIN).json()["leases"]
    return any(lease["sink"] == "events-db" and lease["cursor"] >= last for lease in leases)


def test_a_sigbus_in_a_sink_takes_down_only_its_delivery_process(gateway_factory: Any) -> None:
    # The repro: the SQLite sink's -shm file shrinks under its mapping (here: truncated to 0 bytes), and
    # the next access to the mapping raises SIGBUS. Only the delivery process maps it: that one dies,
    # says so, and is restarted; ingestion answers 200 all along and nothing acknowledged is lost.
    # While the gateway runs, this test watches the sink's cursor through the status API, never by opening its file:
    # a reader of its own would map the same -shm and take the same SIGBUS.
    gw: RunningGateway = gateway_factory(config(sqlite_sink()))
    events_db = gw.dir / "data" / "events.db"
    before = [f"before-{i}" for i in range(50)]
    assert post_events(gw.client, "filum", before).status_code == 200
    wait_until(lambda: _sink_caught_up(gw), timeout=30, message="first events in the sink")
    shm = events_db.with_name("events.db-shm")
    assert shm.stat().st_size > 0
    os.truncate(shm, 0)

    after = []
    for i in range(20):
        ids = [f"after-{i}-{j}" for j in range(10)]
        assert post_events(gw.client, "segment_style", ids).status_code == 200
        assert gw.get("/health").status_code == 200
        after += ids
        if "exited with signal SIGBUS" in gw.stderr():
            break
        time.sleep(0.25)
    wait_until(lambda: "exited with signal SIGBUS" in gw.stderr(), timeout=30, message="the SIGBUS logged")
    err = gw.stderr()
    assert "Fatal Python error: Bus error" in err, err[-3000:]  # where it happened, from faulthandler
    assert re.search(r"delivery worker 0 \(pid \d+\) exited with signal SIGBUS; restarting", err), err[-3000:]
    # ingestion never went down: still 200, and the restarted delivery process delivers everything
    late = [f"late-{i}" for i in range(10)]
    assert post_events(gw.client, "usermaven", late).status_code == 200
    wait_until(lambda: _sink_caught_up(gw), timeout=60, message="the sink caught up after the restart")
    assert gw.stop() == 0
    assert set(before + after + late) <= set(sink_ids(events_db))
