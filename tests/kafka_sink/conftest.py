"""Fixtures for the kafka sink's tests: one real broker per session, and gateways producing to it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.kafka import Broker, broker_session, create_topics

# Fast retries, so a failure shows several attempts within a second or two.
FAST_RETRY = {"retry_initial_seconds": 0.2, "retry_max_seconds": 1.0}


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """A Tansu broker on a free port, started once per test session and stopped after."""
    yield from broker_session(tmp_path_factory.mktemp("kafka"))


@pytest.fixture
def topic(broker: Broker) -> str:
    """A new 3-partition topic of its own for each test."""
    name = f"events-{uuid.uuid4().hex[:12]}"
    create_topics(broker, name)
    return name


def kafka_sink(bootstrap: str, topic: str, **extra: Any) -> dict[str, Any]:
    return {"name": "stream", "type": "kafka", "bootstrap_servers": bootstrap, "topic": topic,
            "request_timeout_ms": 3000, **FAST_RETRY, **extra}
