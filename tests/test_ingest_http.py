"""The ingestion pipeline's core services, through a real server and the test-only probe dialect."""

from __future__ import annotations

import base64
import gzip
import sqlite3
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.server import RunningGateway

KEY = "probe-write-key"


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert {"code", "message", "detail"} <= body.keys(), body
    if code is not None:
        assert body["code"] == code, body
    return body


def track(gw: RunningGateway, body: Any, **kwargs: Any) -> httpx.Response:
    kwargs.setdefault("auth", (KEY, ""))
    return gw.post("/probe/track", json=body, **kwargs)


def committed(gw: RunningGateway, message_id: str) -> bool:
    with sqlite3.connect(gw.dir / "data" / "gateway.db") as db:
        rows = db.execute("SELECT event FROM event_log WHERE CAST(event AS TEXT) LIKE ?",
                          (f'%"{message_id}"%',)).fetchall()
    return bool(rows)


# -- auth styles -----------------------------------------------------------------------------------

@pytest.mark.parametrize("style", ["basic", "bearer", "query_token", "body_write_key"])
def test_each_auth_style_accepts_the_right_key(probe_gateway: RunningGateway, style: str) -> None:
    mid = str(uuid.uuid4())
    body: dict[str, Any] = {"event": f"auth-{style}", "messageId": mid}
    kwargs: dict[str, Any] = {}
    path = "/probe/track"
    if style == "basic":
        kwargs["headers"] = {"Authorization": "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()}
    elif style == "bearer":
        kwargs["headers"] = {"Authorization": f"Bearer {KEY}"}
    elif style == "query_token":
        path += f"?token={KEY}"
    else:
        body["writeKey"] = KEY
    r = probe_gateway.post(path, json=body, **kwargs)
    assert r.status_code == 200, r.text
    event = probe_gateway.wait_for_stdout_events(1, where=lambda e: e["messageId"] == mid)[0]
    assert "writeKey" not in event and KEY not in str(event)


@pytest.mark.parametrize("how", [
    {"auth": ("wrong-key-123", "")},
    {"headers": {"Authorization": "Bearer wrong-key-123"}},
    {"params": {"token": "wrong-key-123"}},
    {"json": {"event": "x", "writeKey": "wrong-key-123"}},
    {"headers": {"Authorization": "Basic !!!not-base64"}},
])
def test_a_wrong_key_is_refused(probe_gateway: RunningGateway, how: dict[str, Any]) -> None:
    r = probe_gateway.post("/probe/track", **{"json": {"event": "x"}, **how})
    body = assert_error(r, 401)
    assert "wrong-key-123" not in r.text
    assert body["code"] in ("invalid_key", "unauthorized")


def test_a_missing_key_is_refused_and_says_how(probe_gateway: RunningGateway) -> None:
    body = assert_error(probe_gateway.post("/probe/track", json={"event": "x"}), 401, "missing_key")
    assert "HTTP Basic" in body["message"] and "writeKey" in body["message"]
    assert "probe-write-key" not in str(probe_gateway.stderr())


# -- limits, encodings, JSON -------------------------------------------------------------------------

def test_event_over_the_per_event_limit_is_413(probe_gateway: RunningGateway) -> None:
    body = assert_error(track(probe_gateway, {"event": "big", "properties": {"x": "y" * 3000}}), 413,
                        "event_too_large")
    assert "2048" in body["message"]


def test_body_over_the_request_limit_is_413(probe_gateway: RunningGateway) -> None:
    batch = {"batch": [{"event": "e", "properties": {"x": "y" * 1000}} for _ in range(80)]}
    body = assert_error(probe_gateway.post("/probe/batch", json=batch, auth=(KEY, "")), 413,
                        "payload_too_large")
    assert body["detail"]["limit"] == "max_request_bytes"


def test_a_huge_streamed_upload_is_cut_off_at_the_limit(probe_gateway: RunningGateway) -> None:
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        for _ in range(100 * 1024):  # 100 MB in 1 KB chunks, no Content-Length
            sent += 1024
            yield b" " * 1024

    try:
        r = probe_gateway.post("/probe/track", content=chunks(), auth=(KEY, ""))
        assert_error(r, 413, "payload_too_large")
    except httpx.TransportError:
        pass  # the server may close the connection while we are still sending; that is the point
    assert sent < 10 * 1024 * 1024


def test_gzip_body_is_accepted(probe_gateway: RunningGateway) -> None:
    mid = str(uuid.uuid4())
    data = gzip.compress(f'{{"event": "zipped", "messageId": "{mid}"}}'.encode())
    r = probe_gateway.post("/probe/track", content=data, auth=(KEY, ""),
                           headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    probe_gateway.wait_for_stdout_events(1, where=lambda e: e["messageId"] == mid)


def test_broken_gzip_is_400(probe_gateway: RunningGateway) -> None:
    r = probe_gateway.post("/probe/track", content=b"\x1f\x8b\x08\x00garbage", auth=(KEY, ""),
                           headers={"Content-Encoding": "gzip"})
    assert_error(r, 400, "invalid_gzip")
    truncated = gzip.compress(b'{"event": "x"}' * 10)[:20]
    r = probe_gateway.post("/probe/track", content=truncated, auth=(KEY, ""), headers={"Content-Encoding": "gzip"})
    assert_error(r, 400, "invalid_gzip")


def test_gzip_bomb_is_413_not_memory(probe_gateway: RunningGateway) -> None:
    bomb = gzip.compress(b"[" + b"0," * (20 * 1024 * 1024) + b"0]", compresslevel=9)
    assert len(bomb) < 64 * 1024  # fits under the body limit; only decompression would blow up
    r = probe_gateway.post("/probe/batch", content=bomb, auth=(KEY, ""), headers={"Content-Encoding": "gzip"})
    body = assert_error(r, 413, "payload_too_large")
    assert "decompressed" in body["message"]


def test_unknown_content_encoding_is_415(probe_gateway: RunningGateway) -> None:
    r = probe_gateway.post("/probe/track", content=b"{}", auth=(KEY, ""), headers={"Content-Encoding": "br"})
    assert_error(r, 415, "unsupported_encoding")


@pytest.mark.parametrize("data", [b"{not json", b"", b"   ", b'{"event": "\xff\xfe"}', b"NaN", b'{"a": Infinity}'])
def test_invalid_json_or_utf8_is_400(probe_gateway: RunningGateway, data: bytes) -> None:
    assert_error(probe_gateway.post("/probe/track", content=data, auth=(KEY, "")), 400, "invalid_json")


def test_other_methods_get_405_json_and_unknown_paths_404_json(probe_gateway: RunningGateway) -> None:
    assert_error(probe_gateway.get("/probe/track"), 405, "method_not_allowed")
    assert_error(probe_gateway.client.put("/probe/track", json={}), 405, "method_not_allowed")
    assert_error(probe_gateway.post("/nowhere", json={}), 404, "not_found")


# -- validation and the many-event policy --------------------------------------------------------------

def test_single_invalid_event_is_400_naming_the_field(probe_gateway: RunningGateway) -> None:
    body = assert_error(track(probe_gateway, {"event": 42}), 400, "invalid_event")
    assert body["detail"]["field"] == "event"
    body = assert_error(track(probe_gateway, {"userId": "u"}), 400, "invalid_event")
    assert body["message"] == "event is required"
    body = assert_error(track(probe_gateway, {"event": "x", "properties": []}), 400)
    assert body["detail"]["field"] == "properties"


def test_bad_timestamp_is_400(probe_gateway: RunningGateway) -> None:
    body = assert_error(track(probe_gateway, {"event": "x", "timestamp": "yesterday"}), 400, "invalid_event")
    assert body["detail"]["field"] == "timestamp"


def test_partial_batch_commits_the_valid_events(probe_gateway: RunningGateway) -> None:
    ids = [str(uuid.uuid4()) for _ in range(3)]
    batch = {"batch": [{"event": "ok", "messageId": ids[0]}, {"event": 7}, {"event": "ok", "messageId": ids[2]},
                       {"event": "forbidden-word"}]}
    r = probe_gateway.post("/probe/batch", json=batch, auth=(KEY, ""))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["accepted"] == 2
    assert [(x["index"], x["field"]) for x in body["rejected"]] == [(1, "batch[1].event"), (3, "batch[3].event")]
    assert committed(probe_gateway, ids[0]) and committed(probe_gateway, ids[2])
    with sqlite3.connect(probe_gateway.dir / "data" / "gateway.db") as db:
        rows = db.execute("SELECT item_index, code, field, payload FROM rejections WHERE source = 'probe' "
                          "AND field LIKE 'batch[%' ORDER BY id DESC LIMIT 2").fetchall()
    assert {r[0] for r in rows} == {1, 3}
    assert any(b'"forbidden-word"' in r[3] for r in rows)


def test_all_invalid_batch_is_400_listing_each(probe_gateway: RunningGateway) -> None:
    r = probe_gateway.post("/probe/batch", json={"batch": [{"event": 1}, {}]}, auth=(KEY, ""))
    body = assert_error(r, 400)
    assert [x["index"] for x in body["detail"]["rejected"]] == [0, 1]


def test_bad_envelope_is_400(probe_gateway: RunningGateway) -> None:
    assert_error(probe_gateway.post("/probe/batch", json={"batch": "no"}, auth=(KEY, "")), 400, "invalid_batch")


# -- enrichment --------------------------------------------------------------------------------------

def test_core_stamps_ids_times_ip_and_source(probe_gateway: RunningGateway) -> None:
    marker = str(uuid.uuid4())
    r = track(probe_gateway, {"event": marker, "userId": None, "properties": {"a": None, "b": [None, 1]}})
    assert r.status_code == 200
    event = probe_gateway.wait_for_stdout_events(1, where=lambda e: e["event"] == marker)[0]
    uuid.UUID(event["messageId"])
    assert event["timestamp"] == event["receivedAt"]
    assert event["context"]["ip"] == "127.0.0.1"
    assert event["source"] == {"id": event["source"]["id"], "name": "probe", "dialect": "probe"}
    assert "userId" not in event and event["properties"] == {"b": [None, 1]}


def test_clock_skew_is_corrected_with_sent_at(probe_gateway: RunningGateway) -> None:
    marker = str(uuid.uuid4())
    # The client's clock is one hour fast: it stamped the event 10 s before sending.
    r = track(probe_gateway, {"event": marker, "timestamp": "2030-01-01T01:00:00Z",
                              "sentAt": "2030-01-01T01:00:10.000Z"})
    assert r.status_code == 200
    event = probe_gateway.wait_for_stdout_events(1, where=lambda e: e["event"] == marker)[0]
    from datetime import datetime

    received = datetime.fromisoformat(event["receivedAt"])
    happened = datetime.fromisoformat(event["timestamp"])
    assert abs((received - happened).total_seconds() - 10) < 0.01
    assert event["originalTimestamp"] == "2030-01-01T01:00:00Z"


def test_forwarded_for_is_ignored_from_an_untrusted_peer(probe_gateway: RunningGateway) -> None:
    marker = str(uuid.uuid4())
    track(probe_gateway, {"event": marker}, headers={"X-Forwarded-For": "203.0.113.9"})
    event = probe_gateway.wait_for_stdout_events(1, where=lambda e: e["event"] == marker)[0]
    assert event["context"]["ip"] == "127.0.0.1"


def test_forwarded_for_is_used_behind_a_trusted_proxy(gateway_factory: Any) -> None:
    from tests.conftest import PROBE_CONFIG

    gw = gateway_factory(PROBE_CONFIG + '\n[server]\ntrusted_proxies = ["127.0.0.0/8"]\n')
    track(gw, {"event": "xff"}, headers={"X-Forwarded-For": "198.51.100.7, 203.0.113.9, 127.0.0.5"})
    event = gw.wait_for_stdout_events(1, where=lambda e: e["event"] == "xff")[0]
    assert event["context"]["ip"] == "203.0.113.9"


def test_health_ready_metrics(probe_gateway: RunningGateway) -> None:
    assert probe_gateway.get("/health").json() == {"status": "ok"}
    assert probe_gateway.get("/ready").status_code == 200
    track(probe_gateway, {"event": "counted"})
    text = probe_gateway.get("/metrics").text
    for name in ("gateway_requests_total", "gateway_events_accepted_total", "gateway_group_commit_events",
                 "gateway_group_commit_seconds", "gateway_sink_lag_events", 'source="probe"',
                 'route="/probe/track"'):
        assert name in text, name


def test_too_many_events_in_one_request_is_413(gateway_factory: Any) -> None:
    from tests.conftest import PROBE_CONFIG

    gw = gateway_factory(PROBE_CONFIG.replace('write_key = "probe-write-key"',
                                              'write_key = "probe-write-key"\nmax_events_per_request = 50'))
    r = gw.post("/probe/batch", json={"batch": [{"event": "e"}] * 51}, auth=(KEY, ""))
    body = assert_error(r, 413, "payload_too_large")
    assert body["detail"] == {"limit": "max_events_per_request", "max_events": 50}
    assert gw.post("/probe/batch", json={"batch": [{"event": "e"}] * 50}, auth=(KEY, "")).status_code == 200


def test_many_invalid_events_are_all_listed_cheaply(probe_gateway: RunningGateway) -> None:
    r = probe_gateway.post("/probe/batch", json={"batch": [{"event": 1}] * 300 + [{"event": "ok"}]},
                           auth=(KEY, ""))
    assert r.status_code == 200, r.text
    rejected = r.json()["rejected"]
    assert len(rejected) == 300 and all(x["field"].startswith(f"batch[{x['index']}]") for x in rejected)
    assert rejected[0]["message"] == "event must be a string, not integer"
