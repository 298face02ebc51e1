"""Values Python cannot represent are one event's 400 naming its field, never a 500 or a lost batch.

From the repro: a Filum ``timestamp`` of ``0001-01-01T00:00:00+01:00`` (or a ``datetime_value`` of
``9999-12-31T23:59:59-01:00``) parses but has no UTC form; it answered 500, and in an array the
valid events were not committed either. Then, for every dialect, a property test puts extreme
values (the ends of the datetime range with offsets, skew corrections past them, epoch
milliseconds past year 9999, integers at and past 64 bits, the largest and smallest floats) into
every time and number its input schema has, through a real server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability.support import (
    FILUM_KEY,
    PH_KEY,
    STDOUT,
    UM_API_KEY,
    UM_TOKEN,
    assert_json_error,
    config,
    log_ids,
    right_auth,
)
from tests.support.payloads import nested_object
from tests.support.server import RunningGateway

pytestmark = pytest.mark.timeout(240)

EXTREME = settings(max_examples=60, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
FILUM = {"Authorization": f"Bearer {FILUM_KEY}"}


@pytest.fixture(scope="module")
def gw(module_gateway_factory: Any) -> Iterator[RunningGateway]:
    gateway: RunningGateway = module_gateway_factory(config(STDOUT), name="extreme")
    yield gateway
    assert gateway.process is not None and gateway.process.poll() is None, "the gateway died"
    # Every extreme value was handled where it is decoded: none reached the core's safety net
    # (which logs a traceback) nor became an internal error.
    stderr = gateway.stderr()
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr[-4000:]


def filum_event(message_id: str, **extra: Any) -> dict[str, Any]:
    return {"event_type": "track", "event_name": "Extreme", "user_id": "u1", "event_id": message_id, **extra}


def test_an_item_nested_past_what_can_be_written_back_is_its_400_and_the_others_are_kept(
        gw: RunningGateway) -> None:
    # orjson reads 1,024 levels but writes 254: such an item is parsed, then refused alone, its
    # rejection kept without a payload (the admin views of those depths: tests/admin/test_sources_api.py).
    deep = nested_object(301)
    path = "/v1/batch"
    events = [{"type": "track", "event": "Deep", "userId": "u1", "messageId": m, **extra}
              for m, extra in (("deep-kept-1", {}), ("deep-refused", {"properties": deep}), ("deep-kept-2", {}))]
    r = gw.post(path, json={"batch": events}, **right_auth("segment_style"))
    assert r.status_code == 200, r.text
    assert [(x["index"], x["code"]) for x in r.json()["rejected"]] == [(1, "unencodable_event")], r.text
    ids = log_ids(gw.dir / "data" / "gateway.db")
    assert {"deep-kept-1", "deep-kept-2"} <= ids and "deep-refused" not in ids
    alone = gw.post("/v1/track", json=events[1], **right_auth("segment_style"))
    assert assert_json_error(alone, 400)["code"] == "unencodable_event"


@pytest.mark.parametrize("body", [
    b"[" * 1000 + b"]" * 1000,  # where a key may be, arrays as deep as JSON parses
    b'{"batch": ' + b"[" * 1000 + b"]" * 1000 + b"}",
    b'{"batch": ' + b"[" * 990 + b'{"api_key": "' + PH_KEY.encode() + b'", "event": "x"}' + b"]" * 990 + b"}",
])
def test_arrays_nested_as_deep_as_json_parses_where_a_body_key_is_looked_for_get_a_4xx(
        gw: RunningGateway, body: bytes) -> None:
    # Looking for the key in the body walked nested arrays by recursion: a 500 (found by the fuzz test).
    for path in ("/batch/", "/i/v0/e", "/capture/"):
        r = gw.post(path, content=body, headers={"Content-Type": "application/json"})
        assert 400 <= r.status_code < 500, (path, r.status_code, r.text)
        assert_json_error(r)


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_time_utc_cannot_hold_is_a_400_naming_the_field(gw: RunningGateway, value: str) -> None:
    r = gw.post("/events", json=filum_event("alone", timestamp=value), headers=FILUM)
    body = assert_json_error(r, 400)
    assert body["detail"]["field"] == "timestamp", body
    param = {"key": "When", "value": {"datetime_value": value}}
    r = gw.post("/events", json=filum_event("alone", event_params=[param]), headers=FILUM)
    body = assert_json_error(r, 400)
    assert body["detail"]["field"] == "event_params[0].value.datetime_value", body
    assert "'When'" in body["message"], body


def test_in_an_array_the_valid_events_are_committed(gw: RunningGateway) -> None:
    events = [filum_event("kept-1"), filum_event("bad-time", timestamp="0001-01-01T00:00:00+01:00"),
              filum_event("bad-param", event_params=[
                  {"key": "When", "value": {"datetime_value": "9999-12-31T23:59:59-01:00"}}]),
              filum_event("kept-2")]
    r = gw.post("/events", json=events, headers=FILUM)
    assert r.status_code == 200, r.text
    rejected = r.json()["rejected"]
    assert [(x["index"], x["field"]) for x in rejected] == [
        (1, "[1].timestamp"), (2, "[2].event_params[0].value.datetime_value")], rejected
    ids = log_ids(gw.dir / "data" / "gateway.db")
    assert {"kept-1", "kept-2"} <= ids and not {"bad-time", "bad-param"} & ids


def test_skew_correction_past_year_one_is_a_400(gw: RunningGateway) -> None:
    # sentAt far after the event's time: the corrected time would fall before year 1.
    r = gw.post("/v1/track", json={"userId": "u1", "event": "Skewed", "timestamp": "0001-01-02T00:00:00Z",
                                   "sentAt": "9999-12-31T00:00:00Z"}, **right_auth("segment_style"))
    body = assert_json_error(r, 400)
    assert body["detail"]["field"] in ("timestamp", "sentAt"), body


def test_integers_past_64_bits_are_refused_naming_where(gw: RunningGateway) -> None:
    data = b'{"userId": "u1", "event": "Big", "properties": {"n": 18446744073709551616}}'
    r = gw.post("/v1/track", content=data, headers={**right_auth("segment_style")["headers"],
                                                   "Content-Type": "application/json"})
    body = assert_json_error(r, 400)
    assert body["code"] == "integer_out_of_range" and body["detail"]["field"] == "properties.n", body
    # The edges that do fit are kept exactly, and a long digit string stays a string.
    data = (b'{"userId": "u1", "event": "Edge", "messageId": "edges", "properties": {"max": 18446744073709551615, '
            b'"min": -9223372036854775808, "text": "123456789012345678901234567890"}}')
    r = gw.post("/v1/track", content=data, headers={**right_auth("segment_style")["headers"],
                                                   "Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    event = gw.wait_for_stdout_events(1, where=lambda e: e.get("messageId") == "edges")[0]
    assert event["properties"] == {"max": 2**64 - 1, "min": -(2**63), "text": "123456789012345678901234567890"}


# -- the property test: extreme values in every slot of every dialect's schema -------------------

def extreme_times() -> st.SearchStrategy[str]:
    offsets = st.sampled_from(["Z", "+00:00", "+01:00", "-01:00", "+23:59", "-23:59", ""])
    edges = st.sampled_from(["0001-01-01T00:00:00", "0001-01-01T23:59:59.999", "9999-12-31T00:00:00",
                             "9999-12-31T23:59:59.999999", "1970-01-01T00:00:00", "2024-02-29T12:00:00"])
    return st.builds(lambda t, o: t + o, edges, offsets) | st.sampled_from(["0001-01-01", "9999-12-31"])


def extreme_numbers() -> st.SearchStrategy[int | float]:
    return st.sampled_from([0, -1, 2**31, 2**53 + 1, 2**63 - 1, -(2**63), 2**63, 2**64 - 1, 2**64, -(2**63) - 1,
                            10**30, -(10**30), 1.7976931348623157e308, -1.7976931348623157e308, 5e-324, -0.0,
                            1e300, 253402300799999, 253402300800000])


def segment_event(draw: st.DrawFn) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "track", "event": "Extreme", "userId": draw(extreme_numbers() | st.just("u1")),
                             "properties": {"n": draw(extreme_numbers()), "when": draw(extreme_times())}}
    for key in ("timestamp", "sentAt", "originalTimestamp"):
        if draw(st.booleans()):
            event[key] = draw(extreme_times())
    return event


def filum_item(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["int_value", "double_value", "datetime_value"]))
    value = draw(extreme_times()) if kind == "datetime_value" else draw(extreme_numbers())
    event = filum_event("p", event_params=[{"key": "v", "value": {kind: value}}])
    for key in ("timestamp", "original_timestamp", "sent_at", "received_at"):
        if draw(st.booleans()):
            event[key] = draw(extreme_times())
    return event


def usermaven_item(draw: st.DrawFn) -> dict[str, Any]:
    event: dict[str, Any] = {"api_key": UM_API_KEY, "event_type": "extreme",
                             "user": {"id": draw(extreme_numbers() | st.just("u1")),
                                      "created_at": draw(extreme_times())},
                             "event_attributes": {"n": draw(extreme_numbers())}}
    if draw(st.booleans()):
        event["_timestamp"] = draw(extreme_numbers())
    if draw(st.booleans()):
        event["company"] = {"id": draw(extreme_numbers()), "name": "c", "created_at": draw(extreme_times())}
    return event


@st.composite
def extreme_request(draw: st.DrawFn, dialect: str) -> tuple[str, bytes, dict[str, Any]]:
    if dialect == "segment_style":
        return "/v1/batch", json.dumps({"batch": [segment_event(draw), segment_event(draw)]}).encode(), \
            right_auth(dialect)
    if dialect == "filum":
        return "/events", json.dumps([filum_item(draw), filum_item(draw)]).encode(), right_auth(dialect)
    return f"/api/v1/s2s/event?token={UM_TOKEN}", json.dumps([usermaven_item(draw)]).encode(), {}


def check_answer(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text)
    if response.status_code == 200:
        for rejected in response.json().get("rejected", []):
            assert rejected["field"], rejected  # each refused event names its field
        return
    body = assert_json_error(response)
    assert 400 <= response.status_code < 500
    detail = body["detail"]
    fields = [detail.get("field")] if isinstance(detail, dict) else []
    if isinstance(detail, dict) and "rejected" in detail:
        fields = [x["field"] for x in detail["rejected"]]
    assert fields and all(fields), body


@pytest.mark.parametrize("dialect", ["segment_style", "filum", "usermaven"])
def test_extreme_values_in_every_dialect_are_kept_or_refused_naming_the_field(gw: RunningGateway,
                                                                              dialect: str) -> None:
    @EXTREME
    @given(request=extreme_request(dialect))
    def run(request: tuple[str, bytes, dict[str, Any]]) -> None:
        path, data, auth = request
        headers = {**auth.get("headers", {}), "Content-Type": "application/json"}
        check_answer(gw.post(path, content=data, headers=headers))

    run()
