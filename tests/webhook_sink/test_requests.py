"""What a receiver gets: auth headers, signatures it can verify on its own, each envelope, gzip.

One gateway, one webhook per variant, each posting to its own receiver; one request of events.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from standardwebhooks import Webhook

from tests.support.receiver import Received, Receiver
from tests.support.server import RunningGateway
from tests.webhook_sink.conftest import config

SECRET = "whsec_" + base64.b64encode(b"a test secret of thirty-two bytes").decode()
VARIANTS: dict[str, dict[str, Any]] = {
    "token": {"auth_token": "token-for-the-partner"},
    "token-named": {"auth_token": "another-token", "auth_header": "X-Hook-Key"},
    "basic": {"basic_user": "ada", "basic_password": "pa:ss"},
    "signed": {"signing_secret": SECRET},
    "signed-gzip": {"signing_secret": SECRET, "gzip": True},
    "momentum": {"envelope": "momentum"},
    "cloudevents": {"envelope": "cloudevents"},
    "only-orders": {"events": ["track:Order Completed"]},
}


@pytest.fixture(scope="module")
def delivered(module_gateway_factory: Callable[..., RunningGateway]) -> Iterator[dict[str, Received]]:
    """The first request each variant's receiver got, after one batch of three events."""
    with ExitStack() as stack:
        receivers = {name: stack.enter_context(Receiver()) for name in VARIANTS}
        gw = module_gateway_factory(config(*(
            {"name": name, "target": receivers[name].url, "batch_max_seconds": 0.1, **settings}
            for name, settings in VARIANTS.items())))
        r = gw.post("/probe/batch", auth=("probe-write-key", ""), json={"batch": [
            {"event": "Order Completed", "messageId": "m1", "properties": {"total": 5}},
            {"event": "Signed Up", "messageId": "m2"},
            {"event": "Order Completed", "messageId": "m3"}]})
        assert r.status_code == 200, r.text
        # A loaded CI machine may take a while to start the sinks; the wait is patience, not a promise.
        yield {name: receiver.wait_for_requests(1, timeout=60)[0] for name, receiver in receivers.items()}


def test_every_request_is_json_with_a_batch_id(delivered: dict[str, Received]) -> None:
    for name, request in delivered.items():
        if name != "cloudevents":
            assert request.headers["content-type"] == "application/json", name
        assert request.method == "POST" and request.path == "/hook"
        assert len(request.headers["webhook-id"]) == 36


def test_canonical_events_in_log_order(delivered: dict[str, Received]) -> None:
    events = delivered["token"].json()
    assert [e["messageId"] for e in events] == ["m1", "m2", "m3"]
    assert events[0]["type"] == "track" and events[0]["properties"] == {"total": 5}
    assert events[0]["source"]["name"] == "probe"


def test_token_header(delivered: dict[str, Received]) -> None:
    assert delivered["token"].headers["x-messagesystems-webhook-token"] == "token-for-the-partner"
    assert delivered["token-named"].headers["x-hook-key"] == "another-token"
    assert "x-messagesystems-webhook-token" not in delivered["token-named"].headers
    assert "authorization" not in delivered["token"].headers


def test_basic_auth(delivered: dict[str, Received]) -> None:
    scheme, encoded = delivered["basic"].headers["authorization"].split(" ")
    assert scheme == "Basic" and base64.b64decode(encoded) == b"ada:pa:ss"


def test_signature_verified_by_the_standard_webhooks_library(delivered: dict[str, Received]) -> None:
    request = delivered["signed"]
    events = Webhook(SECRET).verify(request.body, request.headers)
    assert [e["messageId"] for e in events] == ["m1", "m2", "m3"]
    assert "webhook-signature" not in delivered["token"].headers


def test_gzip_body_and_its_signature(delivered: dict[str, Received]) -> None:
    request = delivered["signed-gzip"]
    assert request.headers["content-encoding"] == "gzip"
    assert request.body[:2] == b"\x1f\x8b"
    events = Webhook(SECRET).verify(request.content, request.headers)
    assert [e["messageId"] for e in events] == ["m1", "m2", "m3"]


def test_momentum_envelope(delivered: dict[str, Received]) -> None:
    records = delivered["momentum"].json()
    assert [list(r) for r in records] == [["msys"]] * 3
    assert [r["msys"]["track_event"]["messageId"] for r in records] == ["m1", "m2", "m3"]


def test_cloudevents_envelope(delivered: dict[str, Received]) -> None:
    request = delivered["cloudevents"]
    assert request.headers["content-type"] == "application/cloudevents-batch+json"
    records = request.json()
    assert [r["id"] for r in records] == ["m1", "m2", "m3"]
    assert {r["specversion"] for r in records} == {"1.0"}
    assert records[0]["type"] == "gateway.event.track" and records[0]["source"] == "/sources/probe"
    assert records[0]["subject"] == "Order Completed" and records[0]["data"]["messageId"] == "m1"
    assert records[0]["time"] == records[0]["data"]["timestamp"]


def test_events_filter_by_type_and_name(delivered: dict[str, Received]) -> None:
    assert [e["messageId"] for e in delivered["only-orders"].json()] == ["m1", "m3"]
