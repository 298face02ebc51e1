"""Webhook delivery end to end: a real gateway posting to a real receiver on 127.0.0.1."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tests.support.receiver import Answer, Receiver
from tests.support.server import RunningGateway, wait_until
from tests.webhook_sink.conftest import FAST_RETRY, batch_status, config, send

Factory = Callable[..., RunningGateway]


def _tries_per_batch(receiver: Receiver) -> dict[str, int]:
    tries: dict[str, int] = {}
    for request in receiver.requests:
        tries[request.headers["webhook-id"]] = tries.get(request.headers["webhook-id"], 0) + 1
    return tries


def _all_delivered(gw: RunningGateway, webhook: str, n: int) -> list[dict[str, Any]] | None:
    batches = batch_status(gw, webhook)
    return batches if len(batches) == n and all(b["state"] == "delivered" for b in batches) else None


def test_batches_are_cut_at_the_event_count(gateway_factory: Factory, receiver: Receiver) -> None:
    gw = gateway_factory(config({"name": "hook", "target": receiver.url, "batch_max_events": 5,
                                 "batch_max_seconds": 600}))
    ids = send(gw, 12)
    first, second = receiver.wait_for_requests(2)[:2]
    assert [e["messageId"] for e in first.json()] == ids[:5]
    assert [e["messageId"] for e in second.json()] == ids[5:10]
    # The last two wait for more events or for ten minutes: nothing more is posted meanwhile.
    assert len(batch_status(gw, "hook")) == 2


def test_batches_are_cut_at_the_time_limit(gateway_factory: Factory, receiver: Receiver) -> None:
    gw = gateway_factory(config({"name": "hook", "target": receiver.url, "batch_max_events": 1000,
                                 "batch_max_seconds": 2}))
    ids = send(gw, 2, "a") + send(gw, 1, "b")
    request = receiver.wait_for_requests(1)[0]
    # Fewer events than the count limit, from two requests: the batch waited, then was cut by time.
    assert [e["messageId"] for e in request.json()] == ids
    assert [b["size"] for b in batch_status(gw, "hook")] == [3]


def test_a_receiver_down_for_a_while_gets_every_event_with_the_same_batch_ids(
        gateway_factory: Factory, receiver: Receiver) -> None:
    gw = gateway_factory(config({"name": "hook", "target": receiver.url, "batch_max_events": 3,
                                 "batch_max_seconds": 0.2, **FAST_RETRY}))
    receiver.fail(500)
    sent = send(gw, 7)
    receiver.wait_for(lambda r: _tries_per_batch(r) and len(_tries_per_batch(r)) == 3
                      and min(_tries_per_batch(r).values()) >= 2, message="each of three batches tried twice")
    failed_ids = set(_tries_per_batch(receiver))
    receiver.down()  # then nothing listens at all for a while
    wait_until(lambda: any("Connect" in (b["last_error"] or "") for b in batch_status(gw, "hook")),
               message="an attempt refused while the receiver is down")
    receiver.succeed()
    receiver.up()
    events = receiver.wait_for_events(7)
    assert sorted(e["messageId"] for e in events) == sorted(sent)
    assert {q.headers["webhook-id"] for q in receiver.delivered()} == failed_ids
    statuses = wait_until(lambda: _all_delivered(gw, "hook", 3), message="three delivered batches")
    assert all(b["attempts"] >= 3 and b["response_code"] == 200 for b in statuses)


def test_a_batch_goes_dead_after_the_window_and_a_replay_delivers_it(
        gateway_factory: Factory, receiver: Receiver) -> None:
    gw = gateway_factory(config({"name": "hook", "target": receiver.url, "batch_max_seconds": 0.1,
                                 "retry_for_seconds": 1, **FAST_RETRY}))
    receiver.fail(503)
    sent = send(gw, 2)
    dead = wait_until(lambda: batch_status(gw, "hook", state="dead"), message="a dead batch")
    assert len(dead) == 1 and dead[0]["size"] == 2 and dead[0]["response_code"] == 503
    assert dead[0]["next_attempt_at"] is None
    batch_id = dead[0]["batch_id"]
    tried = len(receiver.requests)
    assert len(batch_status(gw, "hook", state="dead")) == 1  # stays dead: no deletion, no more tries
    assert len(receiver.requests) == tried

    receiver.succeed()
    r = gw.post("/api/v1/webhooks/hook/replay", json={"batch_id": batch_id},
                headers={"Authorization": "test-admin-key"})
    assert r.status_code == 200, r.text
    assert r.json()["results"] == {"replayed": 1, "batch_ids": [batch_id]}
    events = receiver.wait_for_events(2)
    assert [e["messageId"] for e in events] == sent
    assert receiver.delivered()[0].headers["webhook-id"] == batch_id
    wait_until(lambda: _all_delivered(gw, "hook", 1), message="the replayed batch delivered")


def test_a_hanging_receiver_times_out_and_does_not_slow_another_webhook(
        gateway_factory: Factory, receiver: Receiver, other_receiver: Receiver) -> None:
    receiver.hang()
    gw = gateway_factory(config(
        {"name": "stuck", "target": receiver.url, "batch_max_seconds": 0.1, "timeout_seconds": 5,
         **FAST_RETRY},
        {"name": "fine", "target": other_receiver.url, "batch_max_seconds": 0.1}))
    first = send(gw, 3, "first")
    receiver.wait_for_requests(1)
    second = send(gw, 3, "second")
    events = other_receiver.wait_for_events(6)
    assert [e["messageId"] for e in events] == first + second
    # Both batches reached the other webhook while the stuck one's first attempt was still hanging.
    assert receiver.requests[0].status is None
    stuck = wait_until(lambda: [b for b in batch_status(gw, "stuck") if b["last_error"]],
                       message="the hanging attempt timed out")
    assert "no answer within 5 s" in stuck[0]["last_error"]
    assert stuck[0]["state"] == "retrying"
    receiver.succeed()
    assert sorted(e["messageId"] for e in receiver.wait_for_events(6)) == sorted(first + second)


def test_kill_9_between_store_and_delivery(gateway_factory: Factory, receiver: Receiver) -> None:
    receiver.hang()
    gw = gateway_factory(config({"name": "hook", "target": receiver.url, "batch_max_seconds": 0.1,
                                 "timeout_seconds": 30}))
    sent = send(gw, 4)
    hanging = receiver.wait_for_requests(1)[0]  # stored, first attempt under way, not delivered
    gw.kill()
    receiver.succeed()
    gw.start()
    events = receiver.wait_for_events(4)
    assert [e["messageId"] for e in events] == sent
    assert receiver.delivered()[0].headers["webhook-id"] == hanging.headers["webhook-id"]
    # The core's cursor moved past these events once the batch was stored: no second batch.
    wait_until(lambda: _all_delivered(gw, "hook", 1), message="one batch, delivered")


def test_a_failed_batch_does_not_hold_up_newer_ones(gateway_factory: Factory, receiver: Receiver) -> None:
    gw = gateway_factory(config({"name": "hook", "target": receiver.url, "batch_max_seconds": 0.1,
                                 "retry_initial_seconds": 600}))
    receiver.script(Answer(500))  # the first request fails, every later one succeeds
    first = send(gw, 2, "first")
    failed = receiver.wait_for_requests(1)[0]
    second = send(gw, 2, "second")
    assert [e["messageId"] for e in receiver.wait_for_events(2)] == second
    waiting = [b for b in batch_status(gw, "hook") if b["state"] == "retrying"]
    assert [b["batch_id"] for b in waiting] == [failed.headers["webhook-id"]]
    # Its retry is ten minutes away; a replay sends it now, under the same id.
    r = gw.post("/api/v1/webhooks/hook/replay", json={"batch_id": failed.headers["webhook-id"]},
                headers={"Authorization": "Bearer test-admin-key"})
    assert r.json()["results"]["replayed"] == 1
    assert [e["messageId"] for e in receiver.wait_for_events(4)][2:] == first
    assert receiver.delivered()[-1].headers["webhook-id"] == failed.headers["webhook-id"]


def _failures_metric(gw: RunningGateway) -> float:
    match = re.search(r'^gateway_sink_failures_total\{sink="hook"\} (\S+)$', gw.get("/metrics").text, re.M)
    return float(match.group(1)) if match else 0.0


def test_every_failed_attempt_counts_in_the_sink_failures_metric(gateway_factory: Factory,
                                                                 receiver: Receiver) -> None:
    # The sink's deliver() only stores the batch; its attempts happen later, on the sink's own retry
    # loop. An operator alerting on gateway_sink_failures must still see a receiver that answers 500.
    gw = gateway_factory(config({"name": "hook", "target": receiver.url, "batch_max_events": 3,
                                 "batch_max_seconds": 0.2, **FAST_RETRY}))
    receiver.fail(500)
    send(gw, 3)
    wait_until(lambda: (batch_status(gw, "hook") or [{"attempts": 0}])[0]["attempts"] >= 3,
               message="three failed attempts recorded")
    attempts = batch_status(gw, "hook")[0]["attempts"]
    wait_until(lambda: _failures_metric(gw) >= attempts, timeout=20,
               message=f"at least {attempts} failures in /metrics")
    receiver.succeed()
    wait_until(lambda: _all_delivered(gw, "hook", 1), message="the batch delivered once the receiver answers")
    assert _failures_metric(gw) < len(receiver.requests)  # the one success is not a failure
