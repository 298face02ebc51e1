"""Keys and tokens stay secret, the admin API needs its key, webhooks cannot reach private networks,
and a source can be held to a request rate."""

from __future__ import annotations

import base64
import sqlite3
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.reliability.support import (
    ADMIN,
    DIALECTS,
    FILUM_KEY,
    SECRETS,
    SEGMENT_KEY,
    SOURCES,
    STDOUT,
    UM_API_KEY,
    UM_TOKEN,
    assert_json_error,
    config,
    post_events,
    sink_ids,
    sqlite_sink,
    webhook_sink,
)
from tests.support.receiver import Receiver
from tests.support.server import RunningGateway, wait_until

pytestmark = pytest.mark.timeout(120)

HOOK_TOKEN = "hook-token-that-must-stay-secret-42"
# Keys a client presents that are wrong: they must not be echoed or logged either.
WRONG = ("wrong-but-private-key-aaaa", "wrong-but-private-key-bbbb", "UMwrong.wrong-private-token-cccc")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def stored_text(gw: RunningGateway) -> str:
    """Everything the gateway stored about events: the log, rejections, source stats, the sink's table."""
    parts: list[str] = []
    with sqlite3.connect(gw.dir / "data" / "gateway.db") as db:
        for table, columns in (("event_log", "CAST(event AS TEXT), CAST(raw AS TEXT)"),
                               ("rejections", "*"), ("source_counts", "*")):
            parts += [repr(row) for row in db.execute(f"SELECT {columns} FROM {table}")]
    with sqlite3.connect(gw.dir / "data" / "events.db") as db:
        parts += [repr(row) for row in db.execute("SELECT * FROM events")]
    return "\n".join(parts)


def every_way_to_present(key_for: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    """(path, httpx kwargs) presenting each dialect's key in each of its auth styles, plus some invalid events."""
    seg, filum, um = key_for["segment_style"], key_for["filum"], key_for["usermaven"]
    basic = base64.b64encode(f"{seg}:".encode()).decode()
    event = {"type": "track", "event": "Secret test", "userId": "u1"}
    return [
        ("/v1/track", {"json": event, "headers": {"Authorization": f"Basic {basic}"}}),
        ("/v1/track", {"json": {**event, "writeKey": seg}}),
        ("/v1/batch", {"json": {"writeKey": seg, "batch": [{**event, "writeKey": seg}, {"type": "track"}]}}),
        ("/v1/track", {"json": {"type": "track", "writeKey": seg}}),  # invalid: goes to rejections
        ("/events", {"json": {"event_type": "track", "event_name": "Secret test", "user_id": "u1"},
                     "headers": {"Authorization": f"Bearer {filum}"}}),
        ("/events", {"json": [{"event_type": "nope"}, {"event_type": "track", "event_name": "x", "user_id": "u"}],
                     "headers": {"Authorization": f"Bearer {filum}"}}),
        (f"/api/v1/s2s/event?token={um}", {"json": {"api_key": UM_API_KEY, "event_type": "secret_test",
                                                    "user": {"id": "u1"}}}),
        (f"/api/v1/s2s/event?token={um}", {"json": [{"api_key": UM_API_KEY}]}),
    ]


def test_keys_and_tokens_never_reach_logs_stored_events_or_answers(gateway_factory: Any,
                                                                   receiver: Receiver) -> None:
    gw = gateway_factory(config(STDOUT, sqlite_sink(), webhook_sink(receiver.url, auth_token=HOOK_TOKEN)))
    answers: list[httpx.Response] = []
    right = {"segment_style": SEGMENT_KEY, "filum": FILUM_KEY, "usermaven": UM_TOKEN}
    for path, kwargs in every_way_to_present(right):
        answers.append(gw.post(path, **kwargs))
    accepted = sum(r.json().get("accepted", 0) for r in answers if r.status_code == 200)
    assert accepted >= 5 and any(r.status_code == 400 for r in answers), [r.text for r in answers]
    for i, wrong in enumerate(WRONG):
        wrong_keys = dict.fromkeys(DIALECTS, wrong)
        for path, kwargs in every_way_to_present(wrong_keys)[i::3]:
            r = gw.post(path, **kwargs)
            assert_json_error(r, 401)
            answers.append(r)
    # The admin API shows sources and webhooks without their secrets.
    for path in ("/api/v1/sources", "/api/v1/sources/backend", "/api/v1/sources/site", "/api/v1/webhooks",
                 "/api/v1/webhooks/partner", "/api/v1/dialects"):
        r = gw.get(path, headers=ADMIN)
        assert r.status_code == 200, r.text
        answers.append(r)
    # Delivered everywhere, so every component has handled the events.
    gw.wait_for_stdout_events(accepted)
    wait_until(lambda: len(sink_ids(gw.dir / "data" / "events.db")) >= accepted, message="sqlite sink")
    receiver.wait_for_events(accepted)
    assert all(r.headers.get("x-messagesystems-webhook-token") == HOOK_TOKEN for r in receiver.delivered())
    gw.stop()
    places = {"stderr": gw.stderr(), "stdout sink": gw.stdout_path.read_text(), "stored": stored_text(gw),
              "answers": "\n".join(r.text + repr(dict(r.headers)) for r in answers),
              "webhook bodies": "\n".join(r.content.decode() for r in receiver.delivered())}
    assert "Secret test" in places["stored"] and "secret_test" in places["webhook bodies"]
    for place, text in places.items():
        for secret in (*SECRETS, *WRONG, HOOK_TOKEN, "sec_reliability"):
            assert secret not in text, f"{secret!r} found in {place}"


def admin_operations(gw: RunningGateway) -> list[tuple[str, str]]:
    document = gw.get("/openapi.json").json()
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if {"admin": []} in operation.get("security", []):
                found.append((method.upper(), path.replace("{name}", "backend").replace("{id}", "partner")))
    return found


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Bearer wrong", "test-admin-key-and-more",
                                           "Basic " + base64.b64encode(b"test-admin-key:").decode(),
                                           "Bearer " + SEGMENT_KEY])
def test_every_admin_route_refuses_requests_without_the_admin_key(module_gateway_factory: Any,
                                                                  authorization: str | None) -> None:
    gw = module_gateway_factory(config(STDOUT, webhook_sink("http://127.0.0.1:9/hook")), name="admin")
    operations = admin_operations(gw)
    assert len(operations) >= 10 and any(p.startswith("/api/v1/webhooks") for _, p in operations)
    headers = {"Authorization": authorization} if authorization is not None else {}
    for method, path in operations:
        r = gw.client.request(method, path, headers=headers, json={"name": "x", "dialect": "filum"})
        body = assert_json_error(r, 401)
        assert "test-admin-key" not in r.text, body
    # With the key the same routes answer (whatever they answer, it is not 401).
    for method, path in operations:
        if method == "GET":
            assert gw.client.request(method, path, headers=ADMIN).status_code != 401


def test_an_api_created_source_shows_its_key_once_then_only_a_hint(gateway_factory: Any) -> None:
    gw = gateway_factory(config(STDOUT))
    r = gw.post("/api/v1/sources", json={"name": "new-app", "dialect": "filum"}, headers=ADMIN)
    assert r.status_code == 201, r.text
    key = r.json()["key"]
    assert len(key) >= 20
    assert post_events_with(gw, key).status_code == 200
    for path in ("/api/v1/sources", "/api/v1/sources/new-app", "/api/v1/sources/new-app/events"):
        r = gw.get(path, headers=ADMIN)
        assert r.status_code == 200 and key not in r.text, r.text
    assert key not in gw.stderr()


def post_events_with(gw: RunningGateway, filum_key: str) -> httpx.Response:
    return gw.post("/events", json={"event_type": "track", "event_name": "x", "user_id": "u"},
                   headers={"Authorization": f"Bearer {filum_key}"})


# -- webhooks cannot be pointed at private networks (SSRF) --------------------------------------------

PRIVATE_TARGETS = [
    "http://127.0.0.1:{port}/hook", "http://localhost:{port}/hook", "http://[::1]:{port}/hook",
    "http://0.0.0.0:{port}/hook", "http://127.1.2.3:{port}/hook", "http://[::ffff:127.0.0.1]:{port}/hook",
    "http://10.20.30.40/hook", "http://172.16.5.4/hook", "http://192.168.1.1/hook", "http://100.64.0.1/hook",
    "http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/hook", "http://[fd00::1]/hook",
    "https://127.0.0.1:{port}/hook",
]


def test_api_webhooks_refuse_private_targets_before_connecting(gateway_factory: Any, receiver: Receiver) -> None:
    gw = gateway_factory(config(STDOUT))
    for template in PRIVATE_TARGETS:
        target = template.format(port=receiver.port)
        started = time.monotonic()
        r = gw.post("/api/v1/webhooks", json={"name": "ssrf", "target": target}, headers=ADMIN)
        body = assert_json_error(r, 400)
        assert body["code"] == "target_not_allowed", (target, body)
        assert "allow_private_targets" in body["message"]
        # Refused on the address alone: no connection attempt timed out first.
        assert time.monotonic() - started < 3, target
    assert receiver.requests == [], "a refused target was contacted"
    assert gw.get("/api/v1/webhooks", headers=ADMIN).json() == {"results": []}
    # The admin may allow it; then the test POST goes out and the webhook exists.
    r = gw.post("/api/v1/webhooks", json={"name": "local", "target": receiver.url, "allow_private_targets": True},
                headers=ADMIN)
    assert r.status_code == 200, r.text
    webhook_id = r.json()["results"]["id"]
    assert len(receiver.requests) == 1
    # Turning the guard on for it, or moving it to another private target, is refused the same way.
    r = gw.client.put(f"/api/v1/webhooks/{webhook_id}", json={"allow_private_targets": False}, headers=ADMIN)
    assert assert_json_error(r, 400)["code"] == "target_not_allowed"
    r = gw.client.put(f"/api/v1/webhooks/{webhook_id}", json={"allow_private_targets": None,
                                                              "target": "http://10.0.0.1/x"}, headers=ADMIN)
    assert assert_json_error(r, 400)["code"] == "target_not_allowed"
    assert len(receiver.requests) == 1


# -- per-source rate limit -------------------------------------------------------------------------------

def test_a_source_over_its_rate_limit_gets_429_with_retry_after(gateway_factory: Any) -> None:
    limited = """
[[sources]]
name = "limited"
dialect = "segment_style"
write_key = "limited-write-key-123"
rate_limit_per_second = 0.25
rate_limit_burst = 3
"""
    gw = gateway_factory(config(STDOUT, sources=limited + SOURCES))
    event = {"type": "track", "event": "limited", "userId": "u"}
    answers = [gw.post("/v1/track", json=event, auth=("limited-write-key-123", "")) for _ in range(6)]
    assert [r.status_code for r in answers[:3]] == [200, 200, 200]
    refused = answers[3]
    body = assert_json_error(refused, 429)
    assert body["code"] == "rate_limited" and "limited" in body["message"]
    wait = int(refused.headers["Retry-After"])
    assert 1 <= wait <= 4
    assert all(r.status_code == 429 for r in answers[4:])
    # Nothing of a refused request was committed, and other sources are not held back.
    ids = [str(uuid.uuid4()) for _ in range(3)]
    assert post_events(gw.client, "segment_style", ids).status_code == 200
    assert post_events(gw.client, "filum", ids[:1]).status_code == 200
    events = gw.wait_for_stdout_events(4, where=lambda e: e.get("event") in ("limited", "Reliable"))
    assert sum(e.get("event") == "limited" for e in events) == 3
    time.sleep(wait)
    assert gw.post("/v1/track", json=event, auth=("limited-write-key-123", "")).status_code == 200
