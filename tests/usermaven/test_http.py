"""The dialect through a real gateway: the seed's requests, the answers, and what the sink receives."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gateway.testing import assert_golden
from tests.conftest import BASE_CONFIG, GatewayFactory
from tests.support.server import RunningGateway
from tests.usermaven.support import API_KEY, GOLDEN, SERVER_TOKEN, payload

TOKEN = f"{API_KEY}.{SERVER_TOKEN}"
ATOMIC_TOKEN = "UMatomic.sec_atomic"
PATH = "/api/v1/s2s/event"
CONFIG = f"""{BASE_CONFIG}
[[sources]]
name = "site"
dialect = "usermaven"
api_key = "{API_KEY}"
server_token = "{SERVER_TOKEN}"

[[sources]]
name = "site-atomic"
dialect = "usermaven"
api_key = "UMatomic"
server_token = "sec_atomic"
batch_mode = "atomic"

[[sinks]]
name = "console"
type = "stdout"
"""
ISO_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


@pytest.fixture(scope="module")
def gateway(module_gateway_factory: GatewayFactory) -> Iterator[RunningGateway]:
    yield module_gateway_factory(CONFIG)


def send(gw: RunningGateway, body: Any, token: str | None = TOKEN, path: str = PATH,
         **kwargs: Any) -> httpx.Response:
    params = {"token": token} if token is not None else {}
    if "content" in kwargs:
        return gw.post(path, params=params, **kwargs)
    return gw.post(path, params=params, json=body, **kwargs)


def delivered(gw: RunningGateway, before: int, n: int) -> list[dict[str, Any]]:
    """The ``n`` events the sink printed after the first ``before`` ones (one sink: in commit order)."""
    return gw.wait_for_stdout_events(before + n)[before:before + n]


def next_events_after(gw: RunningGateway, before: int, n: int) -> list[dict[str, Any]]:
    """Send a marker event and return what the sink printed in between: proves nothing else was committed."""
    marker = payload("custom_event") | {"event_type": "marker", "event_id": str(uuid.uuid4())}
    assert send(gw, marker).status_code == 200
    events = gw.wait_for_stdout_events(before + n + 1)[before:]
    assert events[n]["messageId"] == marker["event_id"], events
    return events[:n]


def as_golden(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Replace what differs per run with placeholders, after checking its form."""
    out = []
    for event in events:
        event = dict(event)
        uuid.UUID(event["messageId"])
        assert ISO_MS.fullmatch(event["receivedAt"])
        event["messageId"] = "<uuid>"
        event["receivedAt"] = "<receivedAt>"
        out.append(event)
    return out


def assert_ok(response: httpx.Response, accepted: int) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == "ok"
    assert body["accepted"] == accepted
    return body


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == "error"
    assert body["code"] == code
    assert body["message"] and body["detail"]
    return body


@pytest.mark.parametrize(("name", "count"), [("identify", 2), ("custom_event", 1), ("bulk", 2)])
def test_seed_example_reaches_the_sink_as_golden(gateway: RunningGateway, name: str, count: int) -> None:
    before = len(gateway.stdout_events())
    assert_ok(send(gateway, payload(name)), accepted=count)
    assert_golden(GOLDEN / f"{name}.sink.json", as_golden(delivered(gateway, before, count)))


def test_trailing_slash_path_is_answered_directly(gateway: RunningGateway) -> None:
    before = len(gateway.stdout_events())
    response = send(gateway, [payload("custom_event")], path=PATH + "/")
    assert response.json() == {"status": "ok", "success": True, "accepted": 1}
    assert not response.history
    (event,) = delivered(gateway, before, 1)
    assert event["event"] == "plan_upgraded"


def test_event_id_is_the_message_id_and_the_group_derives_its_own(gateway: RunningGateway) -> None:
    before = len(gateway.stdout_events())
    event_id = str(uuid.uuid4())
    assert_ok(send(gateway, payload("identify") | {"event_id": event_id}), accepted=2)
    identify, group = delivered(gateway, before, 2)
    assert identify["messageId"] == event_id
    assert group["messageId"] == f"{event_id}:group"


def test_without_timestamp_and_event_id_the_core_stamps_both(gateway: RunningGateway) -> None:
    before = len(gateway.stdout_events())
    item = payload("identify")
    del item["_timestamp"]
    assert_ok(send(gateway, item), accepted=2)
    identify, group = delivered(gateway, before, 2)
    assert identify["messageId"] != group["messageId"]
    for event in (identify, group):
        uuid.UUID(event["messageId"])
        assert event["timestamp"] == event["receivedAt"]


@pytest.mark.parametrize(("token", "code"), [(None, "missing_key"), ("", "missing_key"),
                                             ("nonsense", "invalid_key"), (API_KEY, "invalid_key"),
                                             (f"{API_KEY}.wrong", "invalid_key"),
                                             (SERVER_TOKEN, "invalid_key")])
def test_missing_or_wrong_token_is_401(gateway: RunningGateway, token: str | None, code: str) -> None:
    assert_error(send(gateway, payload("custom_event"), token=token), 401, code)


def test_token_in_a_header_instead_of_the_query_is_401(gateway: RunningGateway) -> None:
    response = gateway.post(PATH, json=payload("custom_event"), headers={"Authorization": f"Bearer {TOKEN}"})
    assert_error(response, 401, "missing_key")


def test_body_api_key_of_another_source_is_403_and_commits_nothing(gateway: RunningGateway) -> None:
    before = len(gateway.stdout_events())
    good = payload("custom_event") | {"event_type": "should_not_arrive"}
    body = assert_error(send(gateway, [good, good | {"api_key": "UMatomic"}]), 403, "api_key_mismatch")
    assert "index 1" in body["message"]
    assert next_events_after(gateway, before, 0) == []


@pytest.mark.parametrize(("change", "field"), [
    ({"_timestamp": "1632150122000"}, "_timestamp"),
    ({"_timestamp": 1632150122000.5}, "_timestamp"),
    ({"user": {"email": "user@domain.com"}}, "user"),
    ({"user": {"id": True}}, "user.id"),
    ({"user": {"id": "u1", "custom": "premium"}}, "user.custom"),
    ({"company": {"name": "azhar"}}, "company.id"),
    ({"event_attributes": [1, 2]}, "event_attributes"),
])
def test_invalid_single_event_is_400_naming_the_field(gateway: RunningGateway, change: dict[str, Any],
                                                      field: str) -> None:
    before = len(gateway.stdout_events())
    body = assert_error(send(gateway, payload("custom_event") | change), 400, "invalid_event")
    assert body["detail"]["field"] == field
    assert body["detail"]["index"] == 0
    assert next_events_after(gateway, before, 0) == []


def test_bulk_with_an_invalid_event_commits_the_valid_ones(gateway: RunningGateway) -> None:
    before = len(gateway.stdout_events())
    first, second = payload("bulk")
    body = assert_ok(send(gateway, [first, second | {"_timestamp": "yesterday"}]), accepted=1)
    (rejected,) = body["rejected"]
    assert rejected["index"] == 1
    assert rejected["field"] == "[1]._timestamp"
    assert rejected["code"] == "invalid_event"
    (event,) = next_events_after(gateway, before, 1)
    assert event["properties"] == {"amount": 100, "currency": "USD"}


def test_bulk_with_only_invalid_events_is_400(gateway: RunningGateway) -> None:
    before = len(gateway.stdout_events())
    bad = payload("custom_event") | {"user": {}}
    body = assert_error(send(gateway, [bad, "not an event"]), 400, "invalid_event")
    first, second = body["detail"]["rejected"]
    assert first["field"] == "[0].user"
    assert second["index"] == 1
    assert second["field"].startswith("[1]")
    assert next_events_after(gateway, before, 0) == []


def test_atomic_source_refuses_the_whole_bulk(gateway: RunningGateway) -> None:
    before = len(gateway.stdout_events())
    first, second = (item | {"api_key": "UMatomic"} for item in payload("bulk"))
    body = assert_error(send(gateway, [first, second | {"user": {"id": "u1", "custom": []}}],
                             token=ATOMIC_TOKEN), 400, "invalid_event")
    assert [r["field"] for r in body["detail"]["rejected"]] == ["[1].user.custom"]
    assert next_events_after(gateway, before, 0) == []


@pytest.mark.parametrize(("content", "code"), [(b"[]", "empty_batch"), (b'"plan_upgraded"', "invalid_body"),
                                               (b"42", "invalid_body")])
def test_bodies_that_are_not_events_are_400(gateway: RunningGateway, content: bytes, code: str) -> None:
    response = send(gateway, None, content=content, headers={"Content-Type": "application/json"})
    assert_error(response, 400, code)


def test_body_that_is_not_json_is_400(gateway: RunningGateway) -> None:
    # The seed's own examples, before mending: a comma missing after "src".
    content = b'{"api_key": "API_KEY", "event_type": "x", "src": "http" "url": "http://localhost:3000/"}'
    response = send(gateway, None, content=content, headers={"Content-Type": "application/json"})
    assert_error(response, 400, "invalid_json")
