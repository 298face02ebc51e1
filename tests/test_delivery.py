"""The delivery engine: own cursor per sink, retries, isolation of a bad sink, start and filters."""

from __future__ import annotations

import asyncio
import gc
import json
import sqlite3
import time
import uuid
from pathlib import Path

import pytest

from gateway.delivery.leases import LeaseStore
from gateway.delivery.worker import BUSY_RETRY_SECONDS
from gateway.storage.database import Database
from gateway.storage.state_tables import dead_letter_table
from tests.conftest import PROBE_CONFIG, GatewayFactory
from tests.support.references import referenced_starting_with
from tests.support.server import RunningGateway, wait_until

KEY = ("probe-write-key", "")

FILE_SINK = """
[[sinks]]
name = "file"
type = "file"
path = "file-sink.jsonl"
retry_initial_seconds = 0.2
retry_max_seconds = 0.5
"""


def file_ids(gw: RunningGateway) -> list[str]:
    path = gw.dir / "file-sink.jsonl"
    if not path.exists():
        return []
    return [json.loads(line)["messageId"] for line in path.read_text().splitlines()]


def send(gw: RunningGateway, n: int, event: str = "e") -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(n)]
    r = gw.post("/probe/batch", json={"batch": [{"event": event, "messageId": i} for i in ids]}, auth=KEY)
    assert r.status_code == 200, r.text
    return ids


def control(gw: RunningGateway, mode: str) -> None:
    (gw.dir / "file-sink.control").write_text(mode)


@pytest.mark.parametrize("mode", ["fail", "hang"])
def test_a_bad_sink_holds_up_nobody_and_catches_up(gateway_factory: GatewayFactory, mode: str) -> None:
    gw = gateway_factory(PROBE_CONFIG + FILE_SINK, run=False)
    control(gw, mode)
    gw.start()
    ids = send(gw, 20) + send(gw, 20)  # ingestion goes on while the sink is down
    out = gw.wait_for_stdout_events(40, where=lambda e: e["messageId"] in set(ids))  # so does the other sink
    assert {e["messageId"] for e in out} == set(ids)
    assert file_ids(gw) == []
    if mode == "fail":
        wait_until(lambda: 'gateway_sink_failures_total{sink="file"}' in gw.get("/metrics").text,
                   message="failures counted")
    lag = gw.get("/metrics").text
    assert 'gateway_sink_lag_events{sink="file"} 40.0' in lag
    control(gw, "")
    wait_until(lambda: set(file_ids(gw)) == set(ids), timeout=20, message="file sink caught up")
    assert file_ids(gw) == ids, "a sink receives events in log order"


def test_a_busy_sink_is_not_failing_its_events_wait_in_the_log_and_flow_once_it_has_room(
        gateway_factory: GatewayFactory) -> None:
    # A one-second retry window: were "busy" a failure, the batch would be a dead letter within seconds,
    # never offered to the sink again, and the failure backoff would have grown meanwhile.
    gw = gateway_factory(PROBE_CONFIG + FILE_SINK.replace("retry_max_seconds = 0.5", "retry_max_seconds = 60")
                         + "retry_for_seconds = 1\n", run=False)
    control(gw, "busy")
    gw.start()
    ids = send(gw, 20)
    time.sleep(5)  # several busy answers, the later ones past the retry window had they been failures
    assert file_ids(gw) == []
    assert 'gateway_sink_failures_total{sink="file"} 0.0' in gw.get("/metrics").text
    control(gw, "")
    freed = time.monotonic()
    wait_until(lambda: set(file_ids(gw)) == set(ids), timeout=30, message="events delivered once not busy")
    # offered again at the busy pace, not after a failure backoff grown to retry_max_seconds
    assert time.monotonic() - freed < BUSY_RETRY_SECONDS + 10
    with sqlite3.connect(gw.dir / "data" / "gateway-delivery.db") as db:
        assert db.execute(f"SELECT count(*) FROM {dead_letter_table.name}").fetchone() == (0,)
    logged = gw.stderr()
    assert "sink file is busy, 20 events wait in the log" in logged and "takes events again" in logged
    assert "failed to take" not in logged


def test_each_sink_resumes_from_its_own_cursor_after_restart(gateway_factory: GatewayFactory) -> None:
    gw = gateway_factory(PROBE_CONFIG + FILE_SINK)
    first = send(gw, 5)
    wait_until(lambda: file_ids(gw) == first, message="first batch in file")
    control(gw, "fail")
    second = send(gw, 5)
    gw.wait_for_stdout_events(10)
    gw.kill()
    control(gw, "")
    gw.start()
    wait_until(lambda: file_ids(gw) == first + second, timeout=20, message="file resumed from cursor")
    stdout_ids = [e["messageId"] for e in gw.stdout_events()]
    assert set(stdout_ids) == set(first + second)


def test_start_now_skips_the_past_and_filters_pick_types(gateway_factory: GatewayFactory) -> None:
    gw = gateway_factory(PROBE_CONFIG)
    old = send(gw, 3)
    gw.wait_for_stdout_events(3)
    gw.stop()
    later = FILE_SINK.replace('path = "file-sink.jsonl"', 'path = "file-sink.jsonl"\nstart = "now"\n'
                              'events = ["track:keep-me"]')
    gw.config_path.write_text(gw.config_path.read_text() + later)
    gw.start()
    kept = send(gw, 2, event="keep-me")
    send(gw, 2, event="drop-me")
    kept += send(gw, 1, event="keep-me")
    wait_until(lambda: len(file_ids(gw)) >= 3, message="filtered events in file")
    gw.wait_for_stdout_events(8)
    assert file_ids(gw) == kept
    assert not set(old) & set(file_ids(gw))




# Leases of 60 s: the balance runs every 15 s, and the first one comes before a sink that takes a second
# to start has started; a share taken within 10 s of the gateway being ready was claimed when the sink
# started, not by a balance.
SLOW_BALANCE = PROBE_CONFIG.replace('url = "sqlite+aiosqlite:///data/gateway.db"',
                                    'url = "sqlite+aiosqlite:///data/gateway.db"\npartitions = 4') + FILE_SINK + """
start_delay_seconds = 1

[delivery]
lease_seconds = 60
"""


def lease_owners(gw: RunningGateway, sink: str) -> list[str | None]:
    leases = gw.get("/api/v1/status", headers={"Authorization": "Bearer test-admin-key"}).json()["leases"]
    return [lease["owner"] for lease in leases if lease["sink"] == sink]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_started_sink_takes_its_share_at_once_and_processes_started_together_split_evenly(
        gateway_factory: GatewayFactory, workers: int) -> None:
    gw = gateway_factory(SLOW_BALANCE + f"workers = {workers}\n")

    def split() -> bool:
        owners = lease_owners(gw, "file")
        return len(owners) == 4 and None not in owners and \
            sorted(owners.count(o) for o in set(owners)) == [4 // workers] * workers

    wait_until(split, timeout=10, message=f"4 partitions held, {4 // workers} by each of {workers} process(es)")
    ids = send(gw, 20)
    wait_until(lambda: set(file_ids(gw)) == set(ids), timeout=5, message="the file sink delivered")
    # Nothing was claimed only to be handed back: each process took its share once.
    assert gw.stderr().count("released for another process") == 0


def test_a_dead_letter_is_not_kept_in_memory_by_the_statement_cache(tmp_path: Path) -> None:
    """A dead batch's events written into the statement would stay referenced by SQLAlchemy's compiled
    cache (the first statement of each shape) for the process's life."""
    async def scenario() -> None:
        database = Database("sqlite+aiosqlite:///data/gateway.db", tmp_path)
        try:
            leases = LeaseStore(database, "test-owner")
            await leases.ensure()
            for i in range(3):
                raw = [b'{"messageId":"m%d-%d","padding":"%s"}' % (i, n, b"x" * 4000) for n in range(300)]
                await leases.dead_letter("file", 0, 1, 300, raw, "told to fail")
                del raw
            gc.collect()
            assert referenced_starting_with(b'[{"messageId":"m') == 0  # the dead letters' bodies
        finally:
            await database.dispose()

    asyncio.run(scenario())
