"""The core's durable log on a real PostgreSQL: answers, delivery, rejections, a kill -9 in between."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import PROBE_CONFIG, GatewayFactory
from tests.filum.support import WRITE_KEY as FILUM_KEY
from tests.filum.support import payload
from tests.support.postgres import Postgres, query
from tests.support.server import RunningGateway, wait_until

KEY = ("probe-write-key", "")
SQLITE_STORAGE = 'url = "sqlite+aiosqlite:///data/gateway.db"'
# A dialect whose schema names a client's unknown key in the rejection (PostgreSQL text refuses U+0000).
FILUM_SOURCE = f'\n[[sources]]\nname = "crm"\ndialect = "filum"\nwrite_key = "{FILUM_KEY}"\n'
BIG = 2**31 - 8  # a log that has run long: just short of where a 32-bit column would stop

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def database_url(postgres: Postgres) -> Iterator[str]:
    with postgres.database("gateway_log") as url:
        yield url


def post_events(gw: RunningGateway, tag: str, singles: int, batched: int) -> list[str]:
    """Post events one by one and in one batch; the messageIds of those answered 200."""
    ids = [f"{tag}-{uuid.uuid4().hex[:8]}" for _ in range(singles + batched)]
    for mid in ids[:singles]:
        r = gw.post("/probe/track", json={"event": tag, "messageId": mid}, auth=KEY)
        assert r.status_code == 200, r.text
    batch = [{"event": tag, "messageId": mid, "properties": {"bytes": "é\u2603"}} for mid in ids[singles:]]
    r = gw.post("/probe/batch", json={"batch": batch}, auth=KEY)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == batched
    return ids


# database_url first: set up before, and so dropped after, the gateway that uses it.
def test_the_log_on_postgres_delivers_and_resumes_after_kill_9(database_url: str,
                                                               gateway_factory: GatewayFactory) -> None:
    assert SQLITE_STORAGE in PROBE_CONFIG
    config = PROBE_CONFIG.replace(SQLITE_STORAGE, f'url = "{database_url}"') + FILUM_SOURCE
    gw: RunningGateway = gateway_factory(config)

    first = post_events(gw, "first", singles=5, batched=10)
    printed = gw.wait_for_stdout_events(len(first))
    assert [e["messageId"] for e in printed] == first
    assert printed[-1]["properties"] == {"bytes": "é\u2603"}
    head = query(database_url, "SELECT max(seq) FROM event_log")[0][0]
    wait_until(lambda: query(database_url, "SELECT max(seq) FROM sink_cursors WHERE sink = 'console'") == [(head,)],
               message="the console sink's cursor at the head")

    # A refused event is answered 400 and recorded, even when the client's key holds a U+0000.
    bad = {**payload("seed_track"), "event_params": [{"key": "k", "value": {"bad\u0000key": 1}}]}
    r = gw.post("/events", json=bad, headers={"Authorization": f"Bearer {FILUM_KEY}"})
    assert r.status_code == 400, r.text
    assert query(database_url, "SELECT field FROM rejections") == [("event_params[0].value.bad\ufffdkey",)]

    query(database_url, f"SELECT setval(pg_get_serial_sequence('event_log', 'seq'), {BIG})")
    raised = query(database_url, f"UPDATE source_counts SET events_total = events_total + {BIG} WHERE source = 'probe' "
                   "AND partition = (SELECT min(partition) FROM source_counts WHERE source = 'probe') RETURNING 1")
    assert raised == [(1,)]

    # Acknowledged, then killed before the sink has surely printed them all.
    second = post_events(gw, "second", singles=3, batched=40)
    gw.kill()
    gw.start()
    third = post_events(gw, "third", singles=2, batched=5)

    acked = first + second + third
    wait_until(lambda: set(acked) <= {e.get("messageId") for e in gw.stdout_events()}, timeout=30,
               message="every acknowledged event on stdout after the restart")
    printed_count = Counter(e.get("messageId") for e in gw.stdout_events())
    assert [m for m in first if printed_count[m] != 1] == [], "the restart must resume from the cursor, not replay"

    logged = query(database_url, "SELECT seq, convert_from(event, 'UTF8')::jsonb->>'messageId' FROM event_log"
                                 " ORDER BY seq")
    assert [m for _, m in logged] == acked
    assert len({seq for seq, _ in logged}) == len(acked) and logged[-1][0] > 2**31
    stats = query(database_url, "SELECT sum(events_total) FROM source_counts WHERE source = 'probe'")
    assert stats == [(BIG + len(acked),)]  # 64-bit counters, added up over the partitions' rows
    assert not (gw.dir / "data" / "gateway.db").exists(), "the log must be on PostgreSQL, not SQLite"


LOCK_WAIT = "gateway_group_commit_lock_wait_seconds_total"


def lock_wait(gw: RunningGateway) -> float:
    lines = [line for line in gw.get("/metrics").text.splitlines() if line.startswith(LOCK_WAIT + " ")]
    return float(lines[0].split()[1]) if lines else 0.0


def test_partition_lock_wait_counts_only_waiting_for_a_held_partition(database_url: str,
                                                                        gateway_factory: GatewayFactory) -> None:
    """The metric the benchmark divides by commit time: nothing when no one else holds a partition (its
    SKIP LOCKED pick never blocks), and the time a commit waited when every partition was held."""
    config = PROBE_CONFIG.replace(SQLITE_STORAGE, f'url = "{database_url}"\npartitions = 2')
    gw: RunningGateway = gateway_factory(config)
    post_events(gw, "alone", singles=20, batched=50)
    assert lock_wait(gw) == 0.0, "a commit no other transaction competes with waited for no lock"

    held, answered = 1.0, {}

    async def hold_every_partition() -> None:
        engine = create_async_engine(database_url)
        try:
            async with engine.begin() as conn:
                assert len(list(await conn.execute(text("SELECT partition FROM log_partitions FOR UPDATE")))) == 2
                poster = threading.Thread(target=lambda: answered.setdefault("r", gw.post(
                    "/probe/track", json={"event": "waits", "messageId": "waits-1"}, auth=KEY)))
                poster.start()
                await asyncio.sleep(held)  # shorter than the gateway's lock_timeout (2 s): it waits, not fails
        finally:
            await engine.dispose()
        await asyncio.to_thread(poster.join, 30)

    asyncio.run(hold_every_partition())
    assert answered["r"].status_code == 200, answered["r"].text
    waited = lock_wait(gw)
    assert 0.3 <= waited <= held + 5, waited


def test_commits_of_one_source_on_two_partitions_share_no_counters_row(database_url: str,
                                                                      gateway_factory: GatewayFactory) -> None:
    """Another host's commit of the same source, in flight on one partition (holding that partition and the
    source's counters there), must not hold up this host's commit on the other: the counters are kept
    per source and partition. With one row per source, the second commit waited on it."""
    config = PROBE_CONFIG.replace(SQLITE_STORAGE, f'url = "{database_url}"\npartitions = 2')
    gw: RunningGateway = gateway_factory(config)
    first = post_events(gw, "before", singles=3, batched=10)
    [(busy,)] = query(database_url, "SELECT partition FROM source_counts WHERE source = 'probe'")
    took: dict[str, Any] = {}

    async def another_host_mid_commit() -> None:
        engine = create_async_engine(database_url)
        try:
            async with engine.begin() as conn:
                await conn.execute(text(f"SELECT partition FROM log_partitions WHERE partition = {busy} FOR UPDATE"))
                await conn.execute(text("UPDATE source_counts SET events_total = events_total + 0 "
                                        "WHERE source = 'probe'"))  # the row lock its counters take
                started = asyncio.get_running_loop().time()
                r = await asyncio.to_thread(gw.post, "/probe/track", json={"event": "e", "messageId": "beside"},
                                            auth=KEY)
                took["seconds"], took["status"] = asyncio.get_running_loop().time() - started, r.status_code
                await asyncio.sleep(0.5)
        finally:
            await engine.dispose()

    asyncio.run(another_host_mid_commit())
    assert took["status"] == 200, took
    assert took["seconds"] < 1.5, took  # the lock_timeout is 2 s: a shared row would have held it that long
    assert lock_wait(gw) == 0.0
    rows = query(database_url, "SELECT partition, events_total FROM source_counts WHERE source = 'probe' "
                               "ORDER BY partition")
    assert len(rows) == 2 and sum(n for _, n in rows) == len(first) + 1, rows
    # the admin API adds the partitions' rows up
    shown = gw.get("/api/v1/sources/probe", headers={"Authorization": "Bearer test-admin-key"})
    assert shown.status_code == 200 and shown.json()["source"]["events_total"] == len(first) + 1, shown.text
