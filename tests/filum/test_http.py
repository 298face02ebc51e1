"""Filum's Event API against a real gateway: answers, error bodies, and what the stdout sink prints."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from gateway.testing import assert_golden_events
from tests.support.server import RunningGateway

from .support import ATOMIC_WRITE_KEY, CONFIG, GOLDEN, bearer, payload


@pytest.fixture(scope="module")
def gateway(module_gateway_factory: Callable[..., RunningGateway]) -> RunningGateway:
    return module_gateway_factory(CONFIG)


def tagged(tag: str, *params: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A valid track event whose name is unique to one test, to find it among the sink's output."""
    return {"event_type": "track", "event_name": tag, "user_id": "u1", "event_params": list(params), **extra}


def tag() -> str:
    return f"test {uuid.uuid4()}"


def named(name: str) -> Callable[[dict[str, Any]], bool]:
    return lambda e: e.get("event") == name


def assert_error_shape(body: dict[str, Any], status: int, code: str) -> None:
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert "detail" in body
    assert body["status_code"] == status
    assert isinstance(body["messages"], list) and body["messages"]
    assert all(isinstance(m, str) and m for m in body["messages"])


@pytest.mark.parametrize(("name", "where"), [
    ("seed_identify", lambda e: e["type"] == "identify" and e["userId"] == "0123456789"),
    ("seed_track", named("Transaction Completed")),
])
def test_seed_example_reaches_the_sink_as_golden(gateway: RunningGateway, name: str,
                                                 where: Callable[[dict[str, Any]], bool]) -> None:
    answer = gateway.post("/events", json=payload(name), headers=bearer())
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"success": True, "accepted": 1}
    [event] = gateway.wait_for_stdout_events(1, where=where)
    assert event["context"]["ip"] == "127.0.0.1"
    assert_golden_events(GOLDEN / f"{name}.json", [event])


@pytest.mark.parametrize(("headers", "code"), [
    ({}, "missing_key"),
    ({"Authorization": "Bearer wrong-key"}, "invalid_key"),
    ({"Authorization": "Bearer"}, "missing_key"),
    ({"Authorization": "wk_filum_test"}, "missing_key"),
    ({"Authorization": "Basic d2tfZmlsdW1fdGVzdDo="}, "missing_key"),  # the right key, not in Filum's style
], ids=["missing", "wrong", "empty", "no-scheme", "basic"])
def test_missing_or_wrong_key_is_401(gateway: RunningGateway, headers: dict[str, str], code: str) -> None:
    answer = gateway.post("/events", json=tagged(tag()), headers=headers)
    assert answer.status_code == 401
    assert_error_shape(answer.json(), 401, code)
    assert answer.json()["messages"] == [answer.json()["message"]]


@pytest.mark.parametrize(("param", "field", "words"), [
    ({"key": "Total", "value": {}}, "event_params[1].value", ["no value type"]),
    ({"key": "Total", "value": {"string_value": "1", "int_value": 1}}, "event_params[1].value",
     ["2 value types"]),
    ({"key": "Total", "value": {"int_value": "12"}}, "event_params[1].value.int_value",
     ["int_value must be an integer, not string"]),
    ({"key": "City", "value": {"string_value": "Huế"}}, "event_params[1].key", ["duplicate key"]),
], ids=["no-type", "two-types", "wrong-type", "duplicate"])
def test_bad_param_in_a_single_event_is_400_naming_index_and_key(
        gateway: RunningGateway, param: dict[str, Any], field: str, words: list[str]) -> None:
    key = param["key"]
    city = {"key": "City", "value": {"string_value": "Hà Nội"}}
    answer = gateway.post("/events", json=tagged(tag(), city, param), headers=bearer())
    assert answer.status_code == 400
    body = answer.json()
    assert_error_shape(body, 400, "invalid_event")
    assert body["detail"]["field"] == field
    assert body["messages"] == [body["message"]]
    for word in ["event_params[1]", repr(key), *words]:
        assert word in body["message"], (word, body["message"])


@pytest.mark.parametrize(("event", "field", "code"), [
    ({"event_type": "track", "event_name": "x"}, "user_id", "invalid_event"),
    ({"event_type": "page", "event_name": "x", "user_id": "u"}, "event_type", "invalid_event"),
    ({"event_type": "track", "user_id": "u"}, "event_name", "invalid_event"),
    ({"event_type": "track", "event_name": "x", "user_id": "u", "timestamp": "yesterday"}, "timestamp",
     "invalid_event"),
])
def test_invalid_event_is_400_naming_the_field(gateway: RunningGateway, event: dict[str, Any], field: str,
                                                code: str) -> None:
    answer = gateway.post("/events", json=event, headers=bearer())
    assert answer.status_code == 400
    body = answer.json()
    assert_error_shape(body, 400, code)
    assert body["detail"]["field"] == field
    assert field in body["message"]


@pytest.mark.parametrize(("content", "code"), [
    (b"[]", "no_events"),
    (b'"track"', "invalid_body"),
    (b"42", "invalid_body"),
    (b'{"event_type": "track",', "invalid_json"),
    (b"", "invalid_json"),
])
def test_bad_bodies_are_400_in_the_error_shape(gateway: RunningGateway, content: bytes, code: str) -> None:
    headers = {**bearer(), "Content-Type": "application/json"}
    answer = gateway.post("/events", content=content, headers=headers)
    assert answer.status_code == 400
    assert_error_shape(answer.json(), 400, code)


def test_array_with_a_bad_event_commits_the_others(gateway: RunningGateway) -> None:
    good, bad = tag(), tag()
    answer = gateway.post("/events", headers=bearer(), json=[
        tagged(good, {"key": "n", "value": {"int_value": 1}}),
        tagged(bad, {"key": "Total", "value": {"int_value": "12"}}),
    ])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["accepted"] == 1
    [rejected] = body["rejected"]
    assert rejected["index"] == 1 and rejected["code"] == "invalid_event"
    assert rejected["field"] == "[1].event_params[0].value.int_value"
    assert "event_params[0] (key 'Total')" in rejected["message"]
    [event] = gateway.wait_for_stdout_events(1, where=named(good))
    assert event["properties"] == {"n": 1}


def test_array_of_only_bad_events_is_400_with_a_message_each(gateway: RunningGateway) -> None:
    answer = gateway.post("/events", headers=bearer(), json=[
        tagged(tag(), {"key": "Total", "value": {}}),
        {"event_type": "track", "event_name": tag()},
    ])
    assert answer.status_code == 400
    body = answer.json()
    assert_error_shape(body, 400, "invalid_event")
    assert len(body["messages"]) == 2
    assert body["messages"][0].startswith("event 0: event_params[0] (key 'Total')")
    assert body["messages"][1].startswith("event 1: ") and "user_id" in body["messages"][1]


def test_atomic_source_refuses_the_whole_array(gateway: RunningGateway) -> None:
    good, marker = tag(), tag()
    answer = gateway.post("/events", headers=bearer(ATOMIC_WRITE_KEY), json=[
        tagged(good),
        tagged(tag(), {"key": "When", "value": {"datetime_value": "15/07/2024"}}),
    ])
    assert answer.status_code == 400
    body = answer.json()
    assert_error_shape(body, 400, "invalid_event")
    assert body["messages"] == [f"event 1: {body['detail']['rejected'][0]['message']}"]
    assert "(key 'When')" in body["messages"][0]
    # The sink prints in commit order: once an event sent afterwards is out, the refused one never will be.
    assert gateway.post("/events", json=tagged(marker), headers=bearer(ATOMIC_WRITE_KEY)).status_code == 200
    gateway.wait_for_stdout_events(1, where=named(marker))
    assert [e for e in gateway.stdout_events() if e.get("event") == good] == []


def test_typed_values_and_sdk_fields_reach_the_sink(gateway: RunningGateway) -> None:
    name, event_id = tag(), str(uuid.uuid4())
    answer = gateway.post("/events", headers=bearer(), json=[tagged(
        name,
        {"key": "Total Value", "value": {"double_value": 1451000}},
        {"key": "Items", "value": {"int_value": 3}},
        {"key": "Paid", "value": {"int_value": 1}},
        {"key": "Coupon", "value": {"string_value": None}},
        {"key": "Delivered At", "value": {"datetime_value": "2024-07-15T14:58:13+07:00"}},
        event_id=event_id, anonymous_id=None, origin="pos",
        timestamp="2024-07-15T07:58:13+00:00", original_timestamp="2024-07-15T07:58:13+00:00",
        sent_at="2024-07-15T07:58:13.250000+00:00", received_at="2024-07-15T07:58:13.250000+00:00",
        context={"ip": "", "locale": "vi-VN", "user_agent": ""},
    )])
    assert answer.status_code == 200, answer.text
    [event] = gateway.wait_for_stdout_events(1, where=named(name))
    assert event["messageId"] == event_id
    assert event["properties"] == {"Total Value": 1451000.0, "Items": 3, "Paid": 1,
                                   "Delivered At": "2024-07-15T07:58:13.000Z"}
    assert event["originalTimestamp"] == "2024-07-15T07:58:13+00:00"
    assert event["sentAt"] == "2024-07-15T07:58:13.250000+00:00"
    assert event["context"] == {"ip": "127.0.0.1", "locale": "vi-VN", "user_agent": "",
                                "filum": {"origin": "pos"}}
    assert "anonymousId" not in event
