"""The webhook sink's writes skip their own fsync (``synchronous=NORMAL``) because the core's cursor
commit, later in the same WAL file and synced, makes them durable with it. What that must keep:

- a batch acknowledged to the core (the cursor moved past it) survives a kill -9 and is sent after;
- a kill -9 between the POST and the record of its outcome only sends that batch again;
- the cursor's own commit still syncs (the storage's ``synchronous``): only the sink's writes skip it.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gateway_plugins.webhook_sink import store

from gateway.storage.database import Database
from tests.reliability.support import ADMIN, config, send_rounds, webhook_sink
from tests.support.receiver import Receiver
from tests.support.server import RunningGateway, wait_until

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def batches(gw: RunningGateway) -> list[dict[str, Any]]:
    r = gw.get("/api/v1/webhooks/partner/batch-status", headers=ADMIN, params={"limit": 1000})
    assert r.status_code == 200, r.text
    return list(r.json()["results"])


def cursor(data: Path) -> int:
    """The webhook's cursor as committed in the delivery state's file."""
    with sqlite3.connect(f"file:{data / 'gateway-delivery.db'}?mode=ro", uri=True, timeout=10) as conn:
        row = conn.execute("SELECT max(seq) FROM sink_cursors WHERE sink = 'partner'").fetchone()
    return int(row[0] or 0)


def log_head(data: Path) -> int:
    with sqlite3.connect(f"file:{data / 'gateway.db'}?mode=ro", uri=True, timeout=10) as conn:
        return int(conn.execute("SELECT max(seq) FROM event_log").fetchone()[0] or 0)


def received_counts(receiver: Receiver) -> Counter[str]:
    return Counter(e.get("messageId") for e in receiver.events())


def test_batches_acknowledged_then_kill_9_are_all_sent_after_the_restart(gateway_factory: Any,
                                                                         receiver: Receiver) -> None:
    gw: RunningGateway = gateway_factory(config(webhook_sink(receiver.url, batch_max_events=10,
                                                             batch_max_seconds=0.2)))
    receiver.down()  # nothing can be sent: every batch lives only in the sink's store
    sent = send_rounds(gw.client, 4, per_request=5)
    data = gw.dir / "data"
    head = log_head(data)
    wait_until(lambda: cursor(data) >= head, timeout=30, message="the core moved the cursor past every event")
    stored = batches(gw)
    assert sum(b["size"] for b in stored) == len(sent) and {b["state"] for b in stored} <= {"pending", "retrying"}
    gw.kill()  # right after the acknowledgements: no shutdown, no flush
    receiver.up()
    gw.start()
    wait_until(lambda: sent <= set(received_counts(receiver)), timeout=45,
               message="every acknowledged event sent after the kill")
    assert cursor(data) >= head  # the log was not handed over again: the store had it all
    wait_until(lambda: {b["state"] for b in batches(gw)} == {"delivered"}, message="every batch delivered")


def test_kill_9_between_the_post_and_its_record_only_sends_again(gateway_factory: Any,
                                                                 receiver: Receiver) -> None:
    gw: RunningGateway = gateway_factory(config(webhook_sink(receiver.url, batch_max_events=1000,
                                                             batch_max_seconds=0.3)))
    receiver.hang()  # the target takes the POST and holds its answer: the outcome is never recorded
    sent = send_rounds(gw.client, 2, per_request=5)
    wait_until(lambda: len(receiver.requests) >= 1, timeout=30, message="a batch posted")
    time.sleep(0.3)
    posted = {e.get("messageId") for r in receiver.requests for e in r.json()}
    assert posted, "the held POST carried events"
    gw.kill()
    receiver.succeed()
    receiver.release()
    gw.start()
    wait_until(lambda: sent <= set(received_counts(receiver)), timeout=45, message="every event sent")
    wait_until(lambda: {b["state"] for b in batches(gw)} == {"delivered"}, message="every batch delivered")
    counts = received_counts(receiver)
    assert max(counts[m] for m in sent) <= 2  # resent at most once (the post before the kill)
    assert {m for m in sent if counts[m] == 2} <= posted  # and only what was in flight at the kill


def test_the_sinks_writes_skip_their_fsync_and_the_cursors_do_not(tmp_path: Path) -> None:
    asyncio.run(pragmas(tmp_path))


async def pragmas(tmp_path: Path) -> None:
    core = Database("sqlite+aiosqlite:///gateway-delivery.db", tmp_path)  # the core's: FULL by default
    sink = Database("sqlite+aiosqlite:///gateway-delivery.db", tmp_path)
    store.sync_when_the_cursor_does(sink)
    try:
        levels = []
        for database in (core, sink):
            async with database.engine.connect() as conn:
                levels.append((await conn.exec_driver_sql("PRAGMA synchronous")).scalar())
                assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
        assert levels == [2, 1]  # FULL for the cursor, NORMAL for the batch store
    finally:
        await core.dispose()
        await sink.dispose()
