"""Fixtures for webhook tests: real receivers, and gateways whose config names them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import BASE_CONFIG
from tests.support.receiver import Receiver
from tests.support.server import TEST_PLUGINS_DIR, RunningGateway

ADMIN = {"Authorization": "Bearer test-admin-key"}
WRITE_KEY = ("probe-write-key", "")
# Fast retries so a test sees several attempts in a second or two.
FAST_RETRY = {"retry_initial_seconds": 0.2, "retry_max_seconds": 0.5}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
def other_receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)  # JSON strings, numbers and string arrays are valid TOML


def config(*webhooks: dict[str, Any]) -> str:
    """A gateway with the probe source and the given ``[[sinks]]`` tables (type webhook by default)."""
    parts = [f'plugins_dir = "{TEST_PLUGINS_DIR}"', BASE_CONFIG,
             '[[sources]]\nname = "probe"\ndialect = "probe"\nwrite_key = "probe-write-key"\n']
    for webhook in webhooks:
        table = {"type": "webhook", **webhook}
        parts.append("[[sinks]]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in table.items()))
    return "\n".join(parts)


def send(gw: RunningGateway, n: int, prefix: str = "e") -> list[str]:
    """Send ``n`` track events in one request; return their messageIds."""
    ids = [f"{prefix}-{i}-{uuid.uuid4().hex[:8]}" for i in range(n)]
    r = gw.post("/probe/batch", json={"batch": [{"event": f"{prefix} event", "messageId": m} for m in ids]},
                auth=WRITE_KEY)
    assert r.status_code == 200, r.text
    return ids


def batch_status(gw: RunningGateway, webhook: str, **params: Any) -> list[dict[str, Any]]:
    r = gw.get(f"/api/v1/webhooks/{webhook}/batch-status", headers=ADMIN, params=params)
    assert r.status_code == 200, r.text
    results: list[dict[str, Any]] = r.json()["results"]
    return results
