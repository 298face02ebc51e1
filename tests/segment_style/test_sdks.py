"""The official Python SDKs of Segment and RudderStack, pointed at a real gateway, unchanged.

Each SDK runs in its own virtual environment (their pins conflict), driven by a small script in a
subprocess. Both post ``{"batch": [...]}`` to ``<host>/v1/batch`` with the write key as HTTP Basic
user name; Segment also puts ``writeKey`` in the body, RudderStack gzips by default and sends
identify traits only in ``context.traits``. Both treat anything but a 2xx (RudderStack: exactly
200) as a failure and read ``code`` and ``message`` from an error body.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import GatewayFactory
from tests.support.sdk_venv import run_sdk_script, sdk_python
from tests.support.server import RunningGateway

from .gateways import CONFIG
from .golden import assert_golden
from .seeds import WRITE_KEY

SDKS = {
    "segment": ("segment-analytics-python", ["segment-analytics-python==2.4.0"], "segment.analytics"),
    "rudderstack": ("rudder-sdk-python", ["rudder-sdk-python==2.1.9"], "rudderstack.analytics"),
}

# Every call the SDKs offer, with fixed ids and times so the canonical events are reproducible.
SCRIPT = """
import json, os
from datetime import datetime, timezone
from {module} import Client

cfg = json.loads(os.environ["SDK_TEST"])
errors = []
client = Client(cfg["key"], host=cfg["url"], max_retries=1, sync_mode=cfg["sync"],
                on_error=lambda error, batch: errors.append(repr(error)))
when = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
user = cfg["user"]

def common(kind):
    # A fresh context per call: both SDKs write into the dict they are given.
    return dict(timestamp=when, context={{"app": {{"name": "sdk-test"}}}}, message_id=user + "-" + kind)

client.track(user, "Order Completed", {{"total": 19.99, "currency": "EUR"}}, **common("track"))
client.identify(user, {{"email": "ada@example.com", "plan": "pro"}}, **common("identify"))
client.page(user, "Docs", "Install", {{"path": "/docs/install"}}, **common("page"))
client.screen(user, "Settings", "Profile", {{"tab": "privacy"}}, **common("screen"))
client.group(user, "acme", {{"name": "Acme", "seats": 12}}, **common("group"))
client.alias("anon-" + user, user, **common("alias"))
if not cfg["sync"]:
    client.flush()
print(json.dumps({{"errors": errors}}))
"""

# A wrong key, sent synchronously: the SDK must raise its APIError built from our error body.
BAD_KEY_SCRIPT = """
import json, os
from {module} import Client
from {module}.request import APIError

cfg = json.loads(os.environ["SDK_TEST"])
client = Client("not-a-key", host=cfg["url"], max_retries=0, sync_mode=True)
try:
    client.track("u1", "Refused")
except APIError as error:
    print(json.dumps({{"status": error.status, "code": error.code, "message": error.message}}))
"""


@pytest.fixture(scope="module")
def gateway(module_gateway_factory: GatewayFactory) -> RunningGateway:
    return module_gateway_factory(CONFIG)


def sdk(name: str) -> tuple[Path, str]:
    venv, requirements, module = SDKS[name]
    return sdk_python(venv, requirements), module


def run(name: str, script: str, **cfg: Any) -> dict[str, Any]:
    python, module = sdk(name)
    env = {**os.environ, "SDK_TEST": json.dumps(cfg)}
    result = run_sdk_script(python, script.format(module=module), env=env, timeout=120)
    output: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return output


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize("name", sorted(SDKS))
@pytest.mark.parametrize("sync", [False, True], ids=["flushed", "sync_mode"])
def test_sdk_calls_reach_the_sink_as_canonical_events(gateway: RunningGateway, name: str, sync: bool) -> None:
    user = f"{name}-{'sync' if sync else 'flushed'}-user"
    output = run(name, SCRIPT, key=WRITE_KEY, url=gateway.url, user=user, sync=sync)
    assert output == {"errors": []}
    events = gateway.wait_for_stdout_events(6, where=lambda e: e.get("userId") == user)
    assert [e["type"] for e in events] == ["track", "identify", "page", "screen", "group", "alias"]
    for event in events:
        assert "writeKey" not in event
        # The SDK stamped sentAt when it sent; the core moved the event by the client's clock error.
        skew = parse(event["sentAt"]) - parse(event["originalTimestamp"])
        expected = parse(event["receivedAt"]) - skew
        assert abs(parse(event["timestamp"]) - expected) <= timedelta(milliseconds=2)
    identify = events[1]
    assert identify["traits"] == {"email": "ada@example.com", "plan": "pro"}
    assert_golden(f"sdk_{name}", [_without_run_specifics(e, user) for e in events], sent_at=True)


def _without_run_specifics(event: dict[str, Any], user: str) -> dict[str, Any]:
    """The same golden file serves the flushed and the sync run: only the user id differs."""
    text = json.dumps(event).replace(user, "<user>")
    result: dict[str, Any] = json.loads(text)
    return result


@pytest.mark.parametrize("name", sorted(SDKS))
def test_sdk_reads_our_error_answer(gateway: RunningGateway, name: str) -> None:
    output = run(name, BAD_KEY_SCRIPT, url=gateway.url)
    assert output == {"status": 401, "code": "invalid_key",
                      "message": "unknown key: no source of this endpoint has it"}
