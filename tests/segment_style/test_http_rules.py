"""Auth, envelope, validation rules, batch policy and limits over HTTP, with the answers they give."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import pytest

from tests.conftest import GatewayFactory
from tests.support.server import RunningGateway

from .gateways import ANONYMOUS_KEY, ATOMIC_KEY, BASIC, CONFIG, TINY_KEY, one_shot, rejections
from .seeds import WRITE_KEY


@pytest.fixture(scope="module")
def gateway(module_gateway_factory: GatewayFactory) -> RunningGateway:
    return module_gateway_factory(CONFIG)


def sink_events(gw: RunningGateway, event_name: str, n: int = 1) -> list[dict[str, Any]]:
    return gw.wait_for_stdout_events(n, where=lambda e: e.get("event") == event_name)


def error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert set(body) == {"code", "message", "detail"}, body
    assert body["code"] == code, body
    return body


# --- routes and answers -------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/track", "/analytics/v1/track", "/v1/batch", "/analytics/v1/import"])
def test_other_methods_get_405_with_a_json_error(gateway: RunningGateway, path: str) -> None:
    for method in ("GET", "PUT", "DELETE"):
        body = error(gateway.client.request(method, path, auth=BASIC), 405, "method_not_allowed")
        assert method in body["message"]


@pytest.mark.parametrize("prefix", ["/v1", "/analytics/v1"])
@pytest.mark.parametrize("kind", ["track", "identify", "page", "screen", "group", "alias"])
def test_each_single_route_answers_exactly_200_and_gives_its_type(
    gateway: RunningGateway, prefix: str, kind: str
) -> None:
    marker = f"route{prefix.replace('/', '-')}-{kind}"
    body = {"userId": marker, "event": "route check", "groupId": "g1", "previousId": "p1"}
    response = gateway.post(f"{prefix}/{kind}", json=body, auth=BASIC)
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True, "accepted": 1}
    [event] = gateway.wait_for_stdout_events(1, where=lambda e: e.get("userId") == marker)
    assert event["type"] == kind


@pytest.mark.parametrize("path", ["/v1/batch", "/v1/import", "/analytics/v1/batch", "/analytics/v1/import"])
def test_batch_and_import_take_the_same_body(gateway: RunningGateway, path: str) -> None:
    name = f"batched via {path}"
    batch = {
        "batch": [
            {"type": "track", "event": name, "userId": "u1"},
            {"type": "track", "event": name, "anonymousId": "a1"},
        ]
    }
    response = gateway.post(path, json=batch, auth=BASIC)
    assert response.json() == {"success": True, "accepted": 2}
    assert [e["source"]["name"] for e in sink_events(gateway, name, 2)] == ["backend", "backend"]


# --- auth ---------------------------------------------------------------------------------------


def test_basic_auth_with_an_empty_password(gateway: RunningGateway) -> None:
    response = gateway.post(
        "/v1/track",
        json={"event": "basic auth", "userId": "u1"},
        headers={"Authorization": "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()},
    )
    assert response.status_code == 200, response.text
    sink_events(gateway, "basic auth")


def test_write_key_in_the_body_is_removed_from_the_stored_event(gateway: RunningGateway) -> None:
    response = gateway.post(
        "/analytics/v1/track", json={"writeKey": WRITE_KEY, "event": "body key", "userId": "u1"}
    )
    assert response.status_code == 200, response.text
    [event] = sink_events(gateway, "body key")
    assert "writeKey" not in event and event["source"]["name"] == "backend"


def test_basic_auth_and_a_body_key_together_as_the_segment_sdk_sends(gateway: RunningGateway) -> None:
    batch = {
        "writeKey": WRITE_KEY,
        "batch": [{"type": "track", "event": "both keys", "userId": "u1", "writeKey": WRITE_KEY}],
    }
    assert gateway.post("/v1/batch", json=batch, auth=BASIC).status_code == 200
    [event] = sink_events(gateway, "both keys")
    assert "writeKey" not in event


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({}, "missing_key"),
        ({"auth": ("wrong-key", "")}, "invalid_key"),
        ({"json_extra": {"writeKey": "wrong-key"}}, "invalid_key"),
        ({"json_extra": {"writeKey": ""}}, "missing_key"),
    ],
)
def test_missing_or_unknown_key_is_401(gateway: RunningGateway, kwargs: dict[str, Any], code: str) -> None:
    body = {"event": "should not pass", "userId": "u1", **kwargs.pop("json_extra", {})}
    response = one_shot(gateway, "/v1/track", json=body, **kwargs)
    detail = error(response, 401, code)
    assert WRITE_KEY not in response.text
    if code == "missing_key":
        assert "HTTP Basic" in detail["message"] and "writeKey" in detail["message"]


# --- envelope -----------------------------------------------------------------------------------


def test_a_body_type_contradicting_the_path_is_400_naming_type(gateway: RunningGateway) -> None:
    body = error(
        gateway.post("/v1/identify", json={"type": "track", "event": "x", "userId": "u1"}, auth=BASIC),
        400,
        "type_mismatch",
    )
    assert body["detail"] == {"field": "type", "expected": "identify", "found": "'track'"}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"events": []}, "invalid_batch"),
        ({"batch": {"type": "track"}}, "invalid_batch"),
        ([{"type": "track", "event": "x", "userId": "u"}], "invalid_batch"),
        ({"batch": []}, "empty_batch"),
    ],
)
def test_batch_needs_a_non_empty_batch_array(gateway: RunningGateway, body: Any, code: str) -> None:
    assert error(gateway.post("/v1/batch", json=body, auth=BASIC), 400, code)["detail"] == {"field": "batch"}


def test_gzip_bodies_are_accepted(gateway: RunningGateway) -> None:
    data = gzip.compress(
        json.dumps({"batch": [{"type": "track", "event": "gzipped", "userId": "u1"}]}).encode()
    )
    response = gateway.post(
        "/v1/batch",
        content=data,
        auth=BASIC,
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert response.json() == {"success": True, "accepted": 1}
    sink_events(gateway, "gzipped")


def test_batch_level_fields_reach_items_that_lack_them(gateway: RunningGateway) -> None:
    batch = {
        "context": {"library": {"name": "http"}},
        "integrations": {"All": True},
        "sentAt": "2024-05-01T12:00:00Z",
        "batch": [
            {"type": "track", "event": "inherits", "userId": "u1", "timestamp": "2024-05-01T11:59:00Z"},
            {"type": "track", "event": "inherits", "userId": "u2", "context": {"locale": "de-DE"}},
        ],
    }
    assert gateway.post("/v1/batch", json=batch, auth=BASIC).status_code == 200
    first, second = sorted(sink_events(gateway, "inherits", 2), key=lambda e: e["userId"])
    assert first["context"]["library"] == {"name": "http"} and first["integrations"] == {"All": True}
    assert first["sentAt"] == "2024-05-01T12:00:00Z"
    assert first["originalTimestamp"] == "2024-05-01T11:59:00Z"
    # sentAt was a minute after the event by the client's clock: the event happened a minute before arrival.
    assert first["timestamp"] < first["receivedAt"]
    assert second["context"] == {"locale": "de-DE", "ip": "127.0.0.1"}


# --- validation rules: each a 400 naming the field ----------------------------------------------

INVALID, NO_USER = "invalid_event", "missing_identity"
RULES = [
    ("/v1/track", {"userId": "u"}, "event", INVALID, "event is required"),
    ("/v1/track", {"userId": "u", "event": 7}, "event", INVALID, "event must be a string"),
    ("/v1/alias", {"userId": "u"}, "previousId", INVALID, "previousId is required"),
    ("/v1/alias", {"previousId": "p", "anonymousId": "a"}, "userId", INVALID, "userId is required"),
    ("/v1/group", {"userId": "u"}, "groupId", INVALID, "groupId is required"),
    ("/v1/page", {"name": "Home"}, "userId", NO_USER, "userId or anonymousId is required"),
    ("/v1/page", {"anonymousId": ""}, "userId", NO_USER, "userId or anonymousId is required"),
    ("/v1/track", {"userId": "u", "event": "e", "properties": "cheap"}, "properties", INVALID,
     "properties must be an object or null, not string"),
    ("/v1/identify", {"userId": "u", "traits": ["vip"]}, "traits", INVALID,
     "traits must be an object or null, not array"),
    ("/v1/screen", {"userId": "u", "context": "mobile"}, "context", INVALID,
     "context must be an object or null, not string"),
    ("/v1/screen", {"userId": "u", "integrations": 1}, "integrations", INVALID,
     "integrations must be an object or null, not integer"),
    ("/v1/track", {"userId": "u", "event": "e", "timestamp": "last tuesday"}, "timestamp", INVALID,
     "does not match"),
    ("/v1/track", {"userId": "u", "event": "e", "sentAt": "2024-02-30T00:00:00Z"}, "sentAt", INVALID,
     "not an ISO-8601 time"),
]


@pytest.mark.parametrize(("path", "body", "field", "code", "says"), RULES,
                         ids=[f"{r[0]}:{r[2]}:{i}" for i, r in enumerate(RULES)])
def test_each_rule_is_a_400_naming_the_field(
    gateway: RunningGateway, path: str, body: dict[str, Any], field: str, code: str, says: str
) -> None:
    answer = error(gateway.post(path, json=body, auth=BASIC), 400, code)
    assert answer["detail"] == {"index": 0, "code": code, "field": field, "message": answer["message"]}
    assert says in answer["message"]


def test_a_source_may_accept_events_without_a_user(gateway: RunningGateway) -> None:
    response = gateway.post("/v1/track", json={"event": "nobody"}, auth=(ANONYMOUS_KEY, ""))
    assert response.status_code == 200, response.text
    [event] = sink_events(gateway, "nobody")
    assert "userId" not in event and "anonymousId" not in event and event["source"]["name"] == "anonymous"


def test_a_batch_commits_valid_items_and_lists_the_invalid_ones(gateway: RunningGateway) -> None:
    batch = {
        "batch": [
            {"type": "track", "event": "partly valid", "userId": "u1"},
            {"type": "track", "userId": "u1"},
            {"type": "group", "userId": "u1", "event": "partly valid"},
            {"type": "track", "event": "partly valid"},
            {"type": "identify", "anonymousId": "a1", "event": "partly valid"},
        ]
    }
    response = gateway.post("/v1/batch", json=batch, auth=BASIC)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "success": True,
        "accepted": 2,
        "rejected": [
            {"index": 1, "code": "invalid_event", "message": "event is required", "field": "batch[1].event"},
            {
                "index": 2,
                "code": "invalid_event",
                "message": "groupId is required",
                "field": "batch[2].groupId",
            },
            {
                "index": 3,
                "code": "missing_identity",
                "field": "batch[3].userId",
                "message": "userId or anonymousId is required: an event must name its user "
                "(a source may set require_identity = false to accept such events)",
            },
        ],
    }
    assert [e["type"] for e in sink_events(gateway, "partly valid", 2)] == ["track", "identify"]
    recorded = rejections(gateway, "backend")[-3:]
    assert [(r["item_index"], r["field"]) for r in recorded] == [
        (1, "batch[1].event"),
        (2, "batch[2].groupId"),
        (3, "batch[3].userId"),
    ]
    assert json.loads(recorded[0]["payload"]) == {"type": "track", "userId": "u1"}


def test_a_batch_of_only_invalid_items_is_a_400(gateway: RunningGateway) -> None:
    body = error(
        gateway.post(
            "/v1/batch", json={"batch": [{"type": "alias", "userId": "u"}, {"type": "jump"}]}, auth=BASIC
        ),
        400,
        "invalid_event",
    )
    assert body["message"].startswith("2 of 2 events are invalid")
    assert [r["field"] for r in body["detail"]["rejected"]] == ["batch[0].previousId", "batch[1].type"]


def test_an_atomic_source_commits_all_or_nothing(gateway: RunningGateway) -> None:
    atomic = (ATOMIC_KEY, "")
    valid = {"type": "track", "event": "atomic valid", "userId": "u1"}
    invalid = {"type": "track", "event": "atomic invalid", "userId": "u1", "properties": [1]}
    refused = gateway.post("/v1/batch", json={"batch": [valid, invalid]}, auth=atomic)
    body = error(refused, 400, "invalid_event")
    assert body["detail"]["rejected"] == [
        {"index": 1, "code": "invalid_event", "field": "batch[1].properties",
         "message": "properties must be an object or null, not array"}
    ]
    # The sink prints in commit order: once a later event is out, the refused batch never got in.
    later = gateway.post("/v1/track", json={"event": "after atomic", "userId": "u1"}, auth=atomic)
    assert later.status_code == 200, later.text
    sink_events(gateway, "after atomic")
    assert not [e for e in gateway.stdout_events() if e.get("event") == "atomic valid"]
    fixed = {**invalid, "properties": {}}
    response = gateway.post("/v1/batch", json={"batch": [valid, fixed]}, auth=atomic)
    assert response.json() == {"success": True, "accepted": 2}


# --- limits -------------------------------------------------------------------------------------


def big_event(name: str, size: int) -> dict[str, Any]:
    return {"type": "track", "event": name, "userId": "u1", "properties": {"pad": "x" * size}}


def test_an_event_over_32_kb_is_413_naming_the_event_limit(gateway: RunningGateway) -> None:
    body = error(
        gateway.post("/v1/track", json=big_event("too big", 33 * 1024), auth=BASIC), 413, "event_too_large"
    )
    assert "exceeds the limit of 32768 bytes" in body["message"]
    # Just under the limit passes.
    assert (
        gateway.post("/v1/track", json=big_event("just fits", 32 * 1024 - 200), auth=BASIC).status_code == 200
    )
    sink_events(gateway, "just fits")


def test_an_oversized_item_in_a_batch_is_rejected_alone(gateway: RunningGateway) -> None:
    batch = {"batch": [big_event("batch big", 40 * 1024), big_event("batch small", 10)]}
    response = gateway.post("/v1/batch", json=batch, auth=BASIC)
    assert response.status_code == 200, response.text
    [rejected] = response.json()["rejected"]
    assert (rejected["index"], rejected["code"]) == (0, "event_too_large")
    sink_events(gateway, "batch small")


def test_a_request_over_4_mb_is_413_naming_the_request_limit(gateway: RunningGateway) -> None:
    batch = {"batch": [big_event("bulk", 30 * 1024) for _ in range(140)]}
    data = json.dumps(batch).encode()
    assert len(data) > 4 * 1024 * 1024
    body = error(
        one_shot(gateway, "/v1/batch", content=data, auth=BASIC, headers={"Content-Type": "application/json"}),
        413,
        "payload_too_large",
    )
    assert body["detail"] == {"limit": "max_request_bytes", "max_bytes": 4 * 1024 * 1024}
    # The same bytes gzipped are small on the wire; decompressed they are still over the limit.
    body = error(
        gateway.post(
            "/v1/batch",
            content=gzip.compress(data),
            auth=BASIC,
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        ),
        413,
        "payload_too_large",
    )
    assert body["detail"]["limit"] == "max_request_bytes"


def test_limits_are_per_source(gateway: RunningGateway) -> None:
    tiny = (TINY_KEY, "")
    body = error(
        gateway.post("/v1/track", json=big_event("tiny big", 1100), auth=tiny), 413, "event_too_large"
    )
    assert "1024 bytes" in body["message"]
    batch = {"batch": [big_event("tiny bulk", 900) for _ in range(5)]}
    body = error(one_shot(gateway, "/v1/batch", json=batch, auth=tiny), 413, "payload_too_large")
    assert body["detail"]["max_bytes"] == 4096
    # The default source takes what the tiny one refuses.
    assert gateway.post("/v1/batch", json=batch, auth=BASIC).json() == {"success": True, "accepted": 5}
