"""The delivery engine: own cursor per sink, retries, isolation of a bad sink, start and filters."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.conftest import PROBE_CONFIG, GatewayFactory
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


