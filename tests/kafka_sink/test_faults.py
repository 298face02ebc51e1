"""Faults on the way to Kafka: a missing topic, refused credentials, a broker that hangs or restarts.

Each is a sink failure: counted in /metrics, logged, retried with the core's backoff, nothing dropped.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.kafka_sink.conftest import kafka_sink
from tests.reliability.support import SEGMENT_KEY, config
from tests.support.kafka import Broker, broker_session, consume, consume_all, create_topics
from tests.support.server import RunningGateway, wait_until

pytestmark = pytest.mark.timeout(180)


def metric(gw: RunningGateway, name: str) -> float:
    match = re.search(rf'^{name}{{sink="stream"}} (\S+)$', gw.get("/metrics").text, re.M)
    return float(match.group(1)) if match else 0.0


def failures(gw: RunningGateway) -> float:
    return metric(gw, "gateway_sink_failures_total")


def lag(gw: RunningGateway) -> float:
    return metric(gw, "gateway_sink_lag_events")


def post(gw: RunningGateway, n: int, tag: str = "e") -> list[str]:
    ids = [f"{tag}-{uuid.uuid4()}" for _ in range(n)]
    batch = [{"type": "track", "event": "F", "userId": f"u{i % 7}", "messageId": m} for i, m in enumerate(ids)]
    r = gw.post("/v1/batch", json={"batch": batch}, auth=(SEGMENT_KEY, ""))
    assert r.status_code == 200, r.text
    return ids


def ids_of(messages: list[Any]) -> list[str]:
    return [m.headers["messageId"].decode() for m in messages]


class Poster:
    """A client posting batches of 20 events without pause; ``acked`` keeps what was answered 200."""

    def __init__(self, gw: RunningGateway) -> None:
        self.gw = gw
        self.acked: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.gw.url, timeout=10) as client:
            while not self._stop.is_set():
                ids = [str(uuid.uuid4()) for _ in range(20)]
                batch = [{"type": "track", "event": "L", "userId": f"u{i}", "messageId": m} for i, m in enumerate(ids)]
                r = client.post("/v1/batch", json={"batch": batch}, auth=(SEGMENT_KEY, ""))
                assert r.status_code == 200, r.text  # ingestion never waits for Kafka
                self.acked += ids
                time.sleep(0.02)

    def __enter__(self) -> Poster:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=20)


def test_a_topic_the_cluster_lacks_is_a_failure_until_it_exists(gateway_factory: Any, broker: Broker) -> None:
    missing = f"typo-{uuid.uuid4().hex[:8]}"
    gw = gateway_factory(config(kafka_sink(broker.bootstrap, missing)))
    ids = post(gw, 30)
    wait_until(lambda: failures(gw) >= 2, timeout=30, message="failed attempts in /metrics")
    assert lag(gw) == 30
    assert f"topic {missing} does not exist on the cluster" in gw.stderr()
    # Tansu creates topics on first use: had the sink produced anyway, the typo would now exist.
    create_topics(broker, missing)
    assert sorted(ids_of(consume(broker, missing, count=30))) == sorted(ids)
    wait_until(lambda: lag(gw) == 0, timeout=30, message="the sink caught up")


@pytest.fixture(scope="module")
def locked_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """A broker that requires SASL authentication and knows no user, so it refuses every login."""
    yield from broker_session(tmp_path_factory.mktemp("kafka-auth"), authentication=True)


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "PLAIN"])
def test_refused_credentials_are_a_failure_and_nothing_is_dropped(gateway_factory: Any, locked_broker: Broker,
                                                                  mechanism: str) -> None:
    gw = gateway_factory(config(kafka_sink(
        locked_broker.bootstrap, "events", security_protocol="SASL_PLAINTEXT", sasl_mechanism=mechanism,
        sasl_plain_username="gateway", sasl_plain_password="not-the-password")))
    post(gw, 10)
    wait_until(lambda: failures(gw) >= 2, timeout=30, message="failed attempts in /metrics")
    assert lag(gw) == 10
    assert metric(gw, "gateway_sink_delivered_events_total") == 0
    if mechanism.startswith("SCRAM"):
        assert "SASL authentication refused" in gw.stderr()
    assert "not-the-password" not in gw.stderr()


def test_a_broker_that_hangs_mid_load_loses_nothing_and_duplicates_are_bounded(
        gateway_factory: Any, broker: Broker, topic: str) -> None:
    batch_max = 200
    gw = gateway_factory(config(kafka_sink(broker.bootstrap, topic, batch_max_events=batch_max,
                                           request_timeout_ms=1500)))
    with Poster(gw) as poster:
        wait_until(lambda: metric(gw, "gateway_sink_delivered_events_total") > 200, timeout=30,
                   message="deliveries under way")
        broker.pause()  # SIGSTOP: connections stay open, requests get no answer
        try:
            wait_until(lambda: failures(gw) >= 2, timeout=30, message="timed-out attempts in /metrics")
        finally:
            broker.resume()
        floor = len(poster.acked) + 200
        wait_until(lambda: len(poster.acked) > floor, timeout=30, message="load after the broker is back")
    acked = set(poster.acked)
    wait_until(lambda: lag(gw) == 0, timeout=60, message="the sink caught up")
    messages = consume_all(broker, topic, timeout=30)
    got = Counter(ids_of(messages))
    assert acked <= set(got), f"{len(acked - set(got))} acknowledged events never arrived"
    assert set(got) <= acked
    # What a failed attempt had already handed over may be written twice: at most one batch each.
    duplicates = sum(n - 1 for n in got.values())
    assert duplicates <= failures(gw) * batch_max, (duplicates, failures(gw))


def test_a_broker_restarted_mid_load_gets_everything_from_then_on(gateway_factory: Any, broker: Broker,
                                                                 topic: str) -> None:
    """Tansu keeps its log in memory: a restarted broker starts empty, without the topic.

    What the old broker acknowledged before it stopped was its to keep; the gateway's promise is
    that it notices, keeps every event, and delivers what it had not had acknowledged once the
    broker (and the topic) are back, without a restart of its own.
    """
    gw = gateway_factory(config(kafka_sink(broker.bootstrap, topic, batch_max_events=200)))
    try:
        with Poster(gw) as poster:
            wait_until(lambda: metric(gw, "gateway_sink_delivered_events_total") > 200, timeout=30,
                       message="deliveries under way")
            broker.stop()
            stopped_at = len(poster.acked)
            wait_until(lambda: failures(gw) >= 2, timeout=30, message="failed attempts in /metrics")
            broker.start()
            create_topics(broker, topic)
            floor = len(poster.acked) + 200
            wait_until(lambda: len(poster.acked) > floor, timeout=30, message="load after the restart")
    finally:
        if broker.process is None:
            broker.start()
    after_stop = set(poster.acked[stopped_at:])
    wait_until(lambda: lag(gw) == 0, timeout=60, message="the sink caught up")
    # The new topic also holds the backlog the old broker never got (acknowledged before the stop):
    # read until every event acknowledged after the stop is there, not just that many messages.
    deadline, count, got = time.monotonic() + 60, len(after_stop), set()
    while True:
        messages = consume(broker, topic, count=count, timeout=10)
        got = set(ids_of(messages))
        if after_stop <= got or time.monotonic() > deadline:
            break
        count = len(messages) + len(after_stop - got)
    assert after_stop <= got, f"{len(after_stop - got)} events acknowledged after the stop never arrived"
    assert got <= set(poster.acked)


def test_idempotence_demanded_of_a_broker_without_it_is_a_failure(gateway_factory: Any, broker: Broker,
                                                                  topic: str) -> None:
    # Tansu's in-memory build refuses producer ids: "auto" falls back (see test_delivery), true does not.
    gw = gateway_factory(config(kafka_sink(broker.bootstrap, topic, enable_idempotence=True)))
    post(gw, 5)
    wait_until(lambda: failures(gw) >= 2, timeout=30, message="failed attempts in /metrics")
    assert lag(gw) == 5
    assert "producing without idempotence" not in gw.stderr()
