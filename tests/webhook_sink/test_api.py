"""The webhooks API: create after a test POST, CRUD, validate, batch-status, replay, restarts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from standardwebhooks import Webhook

from tests.support.receiver import Receiver
from tests.support.server import RunningGateway, wait_until
from tests.webhook_sink.conftest import ADMIN, FAST_RETRY, batch_status, config, send

Factory = Callable[..., RunningGateway]
API = "/api/v1/webhooks"


def create(gw: RunningGateway, **body: Any) -> httpx.Response:
    return gw.post(API, json={"name": "Partner hook", "allow_private_targets": True, **body}, headers=ADMIN)


def put(gw: RunningGateway, webhook_id: str, **body: Any) -> httpx.Response:
    return gw.client.put(f"{API}/{webhook_id}", json=body, headers=ADMIN)


def show(gw: RunningGateway, webhook_id: str) -> dict[str, Any]:
    r = gw.get(f"{API}/{webhook_id}", headers=ADMIN)
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()["results"]
    return result


def listed(gw: RunningGateway) -> list[str]:
    r = gw.get(API, headers=ADMIN)
    assert r.status_code == 200, r.text
    return [w["id"] for w in r.json()["results"]]


def test_the_admin_key_is_required(gateway_factory: Factory) -> None:
    gw = gateway_factory(config())
    assert gw.get(API).status_code == 401
    assert gw.get(API, headers={"Authorization": "wrong"}).status_code == 401
    assert gw.get(API, headers={"Authorization": "test-admin-key"}).json() == {"results": []}


def test_create_is_refused_when_the_test_post_fails(gateway_factory: Factory, receiver: Receiver) -> None:
    gw = gateway_factory(config())
    receiver.fail(500)
    r = create(gw, target=receiver.url)
    assert r.status_code == 400
    error = r.json()
    assert error["code"] == "target_test_failed" and "HTTP 500" in error["message"]
    assert error["detail"]["response"]["status"] == 500
    assert "told to fail" in error["detail"]["response"]["body"]
    assert len(receiver.requests) == 1
    receiver.down()
    r = create(gw, target=receiver.url)
    assert r.status_code == 400 and r.json()["detail"]["response"]["status"] is None
    assert listed(gw) == []


def test_private_targets_need_the_admins_say_so(gateway_factory: Factory, receiver: Receiver) -> None:
    gw = gateway_factory(config())
    r = gw.post(API, json={"name": "x", "target": receiver.url}, headers=ADMIN)
    assert r.status_code == 400 and r.json()["code"] == "target_not_allowed"
    assert "127.0.0.1" in r.json()["message"]
    assert receiver.requests == [] and listed(gw) == []


def test_bad_settings_are_named(gateway_factory: Factory, receiver: Receiver) -> None:
    gw = gateway_factory(config())
    for body, word in (({"envelope": "xml"}, "envelope"), ({"colour": "red"}, "colour"),
                       ({"timeout_seconds": "6"}, "timeout_seconds"), ({"target": "ftp://x"}, "target"),
                       ({"events": ["injection"]}, "events[0]"),
                       ({"signing_secret": "not-a-whsec-secret-1234"}, "signing_secret")):
        r = create(gw, **{"target": receiver.url, **body})
        assert r.status_code == 400, r.text
        assert word in r.json()["message"], r.text
    assert "not-a-whsec-secret-1234" not in r.text
    r = gw.post(API, json={"target": receiver.url}, headers=ADMIN)
    assert r.status_code == 400 and r.json()["detail"] == {"field": "name"}
    r = gw.post(API, content=b"[1]", headers=ADMIN)
    assert r.status_code == 400 and r.json()["code"] == "invalid_body"
    assert receiver.requests == []


def test_create_read_update_delete(gateway_factory: Factory, receiver: Receiver,
                                   other_receiver: Receiver) -> None:
    gw = gateway_factory(config())
    r = create(gw, target=receiver.url, auth_token="partner-token-123456", signing_secret="generate",
               events=["track"], batch_max_seconds=0.1)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    webhook_id, secret = results["id"], results["signing_secret"]
    assert results["links"][0]["href"] == f"{gw.url}{API}/{webhook_id}"
    assert results["links"][0]["rel"] == "urn.msys.webhooks.webhook"
    test_post = receiver.requests[0]
    assert Webhook(secret).verify(test_post.body, test_post.headers)[0]["event"] == "Webhook Test"
    assert test_post.headers["x-messagesystems-webhook-token"] == "partner-token-123456"

    shown = show(gw, webhook_id)
    assert shown["name"] == "Partner hook" and shown["target"] == receiver.url and shown["events"] == ["track"]
    assert shown["auth_token"] == "****3456" and shown["signing_secret"] == "****" + secret[-4:]
    assert shown["origin"] == "api" and shown["read_only"] is False
    assert shown["batch_max_events"] == 10000 and shown["timeout_seconds"] == 6
    assert shown["envelope"] == "canonical" and shown["allow_private_targets"] is True
    assert secret not in gw.get(API, headers=ADMIN).text
    assert listed(gw) == [webhook_id]

    sent = send(gw, 3)
    events = receiver.wait_for_events(4)  # the test POST's event, then ours
    assert [e["messageId"] for e in events[1:]] == sent

    # Not the target: no new test POST.
    assert put(gw, webhook_id, batch_max_events=2, name="Renamed").status_code == 200
    assert len(receiver.requests) == 2 and show(gw, webhook_id)["name"] == "Renamed"
    # A new target that fails its test POST changes nothing.
    other_receiver.fail(502)
    r = put(gw, webhook_id, target=other_receiver.url)
    assert r.status_code == 400 and r.json()["code"] == "target_test_failed"
    assert show(gw, webhook_id)["target"] == receiver.url
    # A working one is taken; the masked token sent back keeps the real token.
    other_receiver.succeed()
    r = put(gw, webhook_id, target=other_receiver.url, auth_token="****3456")
    assert r.status_code == 200, r.text
    sent = send(gw, 2, "after")
    events = other_receiver.wait_for_events(3)
    assert [e["messageId"] for e in events[1:]] == sent
    assert other_receiver.delivered()[-1].headers["x-messagesystems-webhook-token"] == "partner-token-123456"

    assert gw.client.delete(f"{API}/{webhook_id}", headers=ADMIN).status_code == 204
    r = gw.get(f"{API}/{webhook_id}", headers=ADMIN)
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert listed(gw) == []


def test_api_webhooks_survive_a_restart(gateway_factory: Factory, receiver: Receiver) -> None:
    gw = gateway_factory(config())
    webhook_id = create(gw, target=receiver.url, batch_max_seconds=0.1).json()["results"]["id"]
    gw.stop()
    gw.start()
    assert listed(gw) == [webhook_id]
    sent = send(gw, 2)
    assert [e["messageId"] for e in receiver.wait_for_events(3)[1:]] == sent


def test_config_webhooks_are_listed_but_read_only(gateway_factory: Factory, receiver: Receiver) -> None:
    gw = gateway_factory(config({"name": "partner", "target": receiver.url, "auth_token": "from-the-config-file"}))
    shown = show(gw, "partner")
    assert shown["origin"] == "config" and shown["read_only"] is True and shown["auth_token"] == "****file"
    assert shown["batch_max_events"] == 10000 and shown["batch_max_seconds"] == 30
    assert shown["retry_for_seconds"] == 14400 and shown["retry_initial_seconds"] == 5
    for r in (put(gw, "partner", target=receiver.url), gw.client.delete(f"{API}/partner", headers=ADMIN)):
        assert r.status_code == 409 and r.json()["code"] == "read_only"
    assert listed(gw) == ["partner"]


def test_validate_reports_what_the_target_said(gateway_factory: Factory, receiver: Receiver) -> None:
    gw = gateway_factory(config({"name": "partner", "target": receiver.url}))
    receiver.fail(503)
    r = gw.post(f"{API}/partner/validate", headers=ADMIN)
    assert r.status_code == 200
    assert r.json()["results"]["ok"] is False and r.json()["results"]["response"]["status"] == 503
    receiver.succeed()
    r = gw.post(f"{API}/partner/validate", headers=ADMIN)
    assert r.json()["results"]["ok"] is True and r.json()["results"]["response"]["status"] == 200
    assert receiver.requests[-1].json()[0]["event"] == "Webhook Test"
    assert gw.post(f"{API}/nope/validate", headers=ADMIN).status_code == 404


def test_batch_status_and_replay(gateway_factory: Factory, receiver: Receiver) -> None:
    gw = gateway_factory(config({"name": "partner", "target": receiver.url, "batch_max_seconds": 0.1,
                                 "retry_for_seconds": 0.5, **FAST_RETRY}))
    send(gw, 2, "ok")
    receiver.wait_for_events(2)
    delivered = wait_until(lambda: [b for b in batch_status(gw, "partner") if b["state"] == "delivered"])
    assert delivered[0]["size"] == 2 and delivered[0]["attempts"] == 1 and delivered[0]["response_code"] == 200
    assert delivered[0]["next_attempt_at"] is None and delivered[0]["finished_at"] is not None

    receiver.fail(500)
    send(gw, 1, "dead")
    dead = wait_until(lambda: batch_status(gw, "partner", state="dead"))
    assert dead[0]["attempts"] >= 2 and dead[0]["last_error"] == "HTTP 500"

    replay = f"{API}/partner/replay"
    r = gw.post(replay, json={"batch_id": delivered[0]["batch_id"]}, headers=ADMIN)
    assert r.status_code == 409 and r.json()["code"] == "delivered"
    assert gw.post(replay, json={"batch_id": "no-such-batch"}, headers=ADMIN).status_code == 404
    assert gw.post(replay, json={"since": "yesterday"}, headers=ADMIN).status_code == 400
    r = gw.post(replay, json={"since": "2999-01-01T00:00:00Z"}, headers=ADMIN)
    assert r.json()["results"]["replayed"] == 0
    receiver.succeed()
    r = gw.post(replay, headers=ADMIN)  # every dead batch of the webhook
    assert r.json()["results"]["batch_ids"] == [dead[0]["batch_id"]]
    assert receiver.wait_for_events(3)[-1]["messageId"].startswith("dead-")

    for params in ({"state": "lost"}, {"limit": "0"}, {"limit": "x"}):
        r = gw.get(f"{API}/partner/batch-status", params=params, headers=ADMIN)
        assert r.status_code == 400 and r.json()["code"] == "invalid_query"
