"""Sinks in trouble: a webhook target down (within and past the retry window), the SQLite sink's
database locked by another process. Ingestion goes on meanwhile, and every event arrives after."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from tests.reliability.support import (
    ADMIN,
    STDOUT,
    config,
    send_rounds,
    sink_ids,
    sqlite_sink,
    wait_for_lease,
    webhook_sink,
)
from tests.support.receiver import Receiver
from tests.support.server import RunningGateway, wait_until

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def received(receiver: Receiver) -> set[str]:
    return {e.get("messageId") for e in receiver.events()}


def batch_states(gw: RunningGateway) -> Counter[str]:
    r = gw.get("/api/v1/webhooks/partner/batch-status", headers=ADMIN, params={"limit": 1000})
    assert r.status_code == 200, r.text
    return Counter(b["state"] for b in r.json()["results"])


def test_a_webhook_target_down_past_the_batching_window_gets_everything_when_back(
        gateway_factory: Any, receiver: Receiver) -> None:
    gw = gateway_factory(config(STDOUT, webhook_sink(receiver.url, batch_max_seconds=0.3)))
    receiver.down()
    wait_for_lease(gw, "partner")  # the traffic must meet a running sink for the window to cut batches
    sent = send_rounds(gw.client, 8, pause=0.25)  # ~2 s of traffic: several batching windows' worth
    gw.wait_for_stdout_events(len(sent))  # ingestion and the other sink went on meanwhile
    wait_until(lambda: batch_states(gw)["retrying"] >= 2, message="batches waiting for the target")
    assert received(receiver) == set()
    receiver.up()
    wait_until(lambda: sent <= received(receiver), timeout=30, message="every event delivered once back")
    wait_until(lambda: set(batch_states(gw)) == {"delivered"}, message="every batch delivered")


def test_a_webhook_target_down_past_the_retry_window_is_replayed(gateway_factory: Any,
                                                                 receiver: Receiver) -> None:
    sink = webhook_sink(receiver.url, retry_for_seconds=1.5)
    gw = gateway_factory(config(STDOUT, sink))
    receiver.down()
    sent = send_rounds(gw.client, 3)
    wait_until(lambda: batch_states(gw)["dead"] >= 1 and not batch_states(gw)["retrying"], timeout=30,
               message="batches dead after the retry window")
    receiver.up()
    time.sleep(1.5)
    assert received(receiver) == set(), "dead batches are not retried on their own"
    r = gw.post("/api/v1/webhooks/partner/replay", json={}, headers=ADMIN)
    assert r.status_code == 200, r.text
    assert r.json()["results"]["replayed"] >= 1
    wait_until(lambda: sent <= received(receiver), timeout=30, message="every event delivered after the replay")
    wait_until(lambda: set(batch_states(gw)) == {"delivered"}, message="every batch delivered")


LOCKER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("ROLLBACK")
"""


def test_the_sqlite_sink_locked_by_another_process_catches_up(gateway_factory: Any) -> None:
    gw = gateway_factory(config(STDOUT, sqlite_sink()))
    events_db = gw.dir / "data" / "events.db"
    first = send_rounds(gw.client, 1)
    wait_until(lambda: first <= set(sink_ids(events_db)), message="the sink running")
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(events_db), "4"], stdout=subprocess.PIPE)
    try:
        assert locker.stdout is not None and locker.stdout.readline().strip() == b"locked"
        started = time.monotonic()
        during = send_rounds(gw.client, 6, pause=0.2)  # every request answered 200 while the sink cannot write
        gw.wait_for_stdout_events(len(first | during))
        assert time.monotonic() - started < 4, "ingestion should not wait for the locked sink"
    finally:
        locker.wait(timeout=20)
        assert locker.stdout is not None
        locker.stdout.close()
    wait_until(lambda: (first | during) <= set(sink_ids(events_db)), timeout=30,
               message="the SQLite sink caught up")
    stored = Counter(sink_ids(events_db))
    assert all(n == 1 for n in stored.values())
    assert "sink events-db failed" in gw.stderr(), "the lock should have made deliveries fail and retry"
