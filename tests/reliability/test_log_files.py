"""The durable log does not answer 200 on files it cannot trust, and /ready says whether it can write.

From the repro: deleting ``data/gateway.db-wal`` while the gateway ran kept every answer 200 and
``/ready`` 200, and the next crash lost all 500 events acknowledged since; while the log's files
could not be written requests got 503 but ``/ready`` still answered 200; a SIGBUS ended the process
without a word.
"""

from __future__ import annotations

import signal
import sqlite3
from typing import Any

import pytest

from tests.reliability.support import assert_json_error, config, log_ids, post_events
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


def test_a_fatal_signal_is_logged(gateway_factory: Any) -> None:
    # The SQLite sink's -shm mapping failing raises SIGBUS in the process that maps it; here the
    # signal is sent directly. The process cannot survive it, but it says what killed it and where.
    gw: RunningGateway = gateway_factory(config())
    assert gw.process is not None
    gw.process.send_signal(signal.SIGBUS)
    gw.process.wait(timeout=20)
    assert "Fatal Python error: Bus error" in gw.stderr(), gw.stderr()[-2000:]
