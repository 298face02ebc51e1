"""A real gateway producing to a real broker, read back by a real consumer: what lands on the topic."""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka.partitioner import murmur2

from tests.kafka_sink.conftest import kafka_sink
from tests.reliability.support import FILUM_KEY, SEGMENT_KEY, UM_API_KEY, UM_TOKEN, config
from tests.support.kafka import Broker, Message, consume, create_topics
from tests.support.server import RunningGateway, wait_until

pytestmark = pytest.mark.timeout(180)

USERS = ("ann", "bob", "cy")
PER_USER = 8


def log_rows(gw: RunningGateway) -> dict[str, bytes]:
    """messageId -> the event's bytes exactly as the durable log holds them."""
    with sqlite3.connect(gw.dir / "data" / "gateway.db") as db:
        rows = db.execute("SELECT event FROM event_log").fetchall()
    out = {}
    for (raw,) in rows:
        raw = bytes(raw) if not isinstance(raw, str) else raw.encode()
        out[json.loads(raw)["messageId"]] = raw
    return out


def post_every_dialect(client: httpx.Client, run: str) -> list[str]:
    """Each dialect sends PER_USER events per user, in order (``n``), plus one anonymous-only event."""
    ids: list[str] = []
    for n in range(PER_USER):
        seg = [{"type": "track", "event": "Step", "userId": f"seg-{u}", "messageId": f"{run}-seg-{u}-{n}",
                "properties": {"n": n}} for u in USERS]
        fil = [{"event_type": "track", "event_name": "Step", "user_id": f"fil-{u}", "event_id": f"{run}-fil-{u}-{n}",
                "event_params": [{"key": "n", "value": {"int_value": n}}]} for u in USERS]
        um = [{"api_key": UM_API_KEY, "event_type": "step", "event_id": f"{run}-um-{u}-{n}",
               "user": {"id": f"um-{u}"}, "event_attributes": {"n": n}} for u in USERS]
        for r in (client.post("/v1/batch", json={"batch": seg}, auth=(SEGMENT_KEY, "")),
                  client.post("/events", json=fil, headers={"Authorization": f"Bearer {FILUM_KEY}"}),
                  client.post(f"/api/v1/s2s/event?token={UM_TOKEN}", json=um)):
            assert r.status_code == 200, r.text
            assert r.json().get("rejected") in (None, []), r.text
        ids += [e["messageId"] for e in seg] + [e["event_id"] for e in fil] + [e["event_id"] for e in um]
    anon = {"type": "identify", "anonymousId": f"anon-{run}", "messageId": f"{run}-anon", "traits": {"a": 1}}
    r = client.post("/v1/identify", json=anon, auth=(SEGMENT_KEY, ""))
    assert r.status_code == 200, r.text
    return [*ids, anon["messageId"]]


def test_every_dialect_arrives_as_the_logged_json_keyed_per_user_in_order(
        gateway_factory: Any, broker: Broker, topic: str) -> None:
    gw = gateway_factory(config(kafka_sink(broker.bootstrap, topic, batch_max_events=7)))
    ids = post_every_dialect(gw.client, "d")
    messages = consume(broker, topic, count=len(ids))
    assert sorted(m.headers["messageId"].decode() for m in messages) == sorted(ids)

    logged = log_rows(gw)
    by_key: dict[bytes | None, list[Message]] = defaultdict(list)
    for m in messages:
        event = json.loads(m.value)
        # The value is the log's bytes, not a re-encoding of them.
        assert m.value == logged[event["messageId"]]
        assert m.headers["type"].decode() == event["type"]
        assert m.headers["source"].decode() == event["source"]["id"]
        assert m.key == (event.get("userId") or event["anonymousId"]).encode()
        by_key[m.key].append(m)
    assert len(by_key) == 3 * len(USERS) + 1
    for key, msgs in by_key.items():
        assert len({m.partition for m in msgs}) == 1, f"key {key!r} spread over partitions"
        # The partition any Kafka producer's default partitioner (murmur2, as Java's) picks for the key.
        assert key is not None and msgs[0].partition == (murmur2(key) & 0x7FFFFFFF) % 3
        if key is not None and not key.startswith(b"anon"):
            steps = [json.loads(m.value)["properties"]["n"] for m in sorted(msgs, key=lambda m: m.offset)]
            assert steps == list(range(PER_USER)), (key, steps)
    assert len({m.partition for m in messages}) > 1, "keys should spread over the partitions"


def test_a_batch_of_ten_thousand_arrives_whole(gateway_factory: Any, broker: Broker, topic: str) -> None:
    gw = gateway_factory(config(kafka_sink(broker.bootstrap, topic, batch_max_events=10000,
                                           batch_max_seconds=5, compression_type="zstd")))
    ids = [str(uuid.uuid4()) for _ in range(10000)]
    body = {"batch": [{"type": "track", "event": "Bulk", "userId": f"u{i % 50}", "messageId": m}
                      for i, m in enumerate(ids)]}
    r = gw.post("/v1/batch", json=body, auth=(SEGMENT_KEY, ""), timeout=60)
    assert r.status_code == 200, r.text
    messages = consume(broker, topic, count=10000, timeout=60)
    got = [m.headers["messageId"].decode() for m in messages]
    assert len(got) == 10000 and set(got) == set(ids)
    # All in one delivery: the sink's counter moved once, by the whole batch.
    # Delivery runs in its own process, which publishes its counters with each heartbeat: wait for that.
    delivered = 'gateway_sink_delivered_events_total{sink="stream"} '

    def reported() -> str | None:
        text = gw.get("/metrics").text
        return text if delivered in text and f"{delivered}0.0" not in text else None

    metrics = wait_until(reported, timeout=20, message="the delivery counters in /metrics")
    assert f"{delivered}10000.0" in metrics
    failed = re.search(r'^gateway_sink_failures_total\{sink="stream"\} (\S+)$', metrics, re.M)
    assert failed is None or float(failed.group(1)) == 0, failed
    # enable_idempotence = "auto" on a broker that refuses producer ids: a plain producer, said in the log.
    assert "producing without idempotence" in gw.stderr()


def test_a_topic_template_routes_each_type_to_its_topic(gateway_factory: Any, broker: Broker) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    types = ("track", "identify", "page", "screen", "group", "alias")
    create_topics(broker, *(f"{prefix}.{t}" for t in types))
    gw = gateway_factory(config(kafka_sink(broker.bootstrap, prefix + ".{type}", key="messageId",
                                           headers=["messageId"])))
    batch = [{"type": "track", "event": "E"}, {"type": "identify", "traits": {}}, {"type": "page", "name": "P"},
             {"type": "screen", "name": "S"}, {"type": "group", "groupId": "g"},
             {"type": "alias", "previousId": "p"}]
    for item in batch:
        item.update(userId="u", messageId=f"{prefix}-{item['type']}")
    r = gw.post("/v1/batch", json={"batch": batch * 1}, auth=(SEGMENT_KEY, ""))
    assert r.status_code == 200, r.text
    for t in types:
        [m] = consume(broker, f"{prefix}.{t}", count=1)
        assert json.loads(m.value)["type"] == t
        assert m.key == f"{prefix}-{t}".encode()  # key = "messageId" as configured
        assert set(m.headers) == {"messageId"}


def test_gateway_check_validates_the_settings(tmp_path: Path) -> None:
    from gateway.cli import main

    def check(**sink: Any) -> int:
        path = tmp_path / "config.toml"
        path.write_text(config({"name": "stream", "type": "kafka", **sink}))
        return main(["check", "--config", str(path)])

    ok = {"bootstrap_servers": "127.0.0.1:9092,127.0.0.1:9093", "topic": "events.{type}"}
    assert check(**ok) == 0
    assert check(**ok, security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512",
                 sasl_plain_username="gw", sasl_plain_password="pw", ssl_cafile="ca.pem") == 0
    for bad in ({"topic": "events"},                                      # no bootstrap_servers
                {**ok, "bootstrap_servers": "no-port"},
                {**ok, "topic": "events/{type}"},                         # not a legal topic character
                {**ok, "topic": "events.{event}"},                        # not a placeholder we fill
                {**ok, "acks": 0},                                        # would break at-least-once
                {**ok, "compression_type": "brotli"},
                {**ok, "security_protocol": "SASL_SSL"},                  # SASL without credentials
                {**ok, "sasl_plain_username": "gw"},                      # credentials without SASL
                {**ok, "linger_ms": -1},
                {**ok, "key": ["user id"]},
                {**ok, "topc": "x"}):                                      # a typo
        assert check(**bad) == 2, bad
