"""The official Python SDK (filum-analytics-python) against a real gateway, unchanged but for its host."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from gateway.testing import assert_golden_events
from tests.support.sdk_venv import run_sdk_script, sdk_python
from tests.support.server import RunningGateway

from .support import CONFIG, GOLDEN, WRITE_KEY

# The SDK pins backoff==1.6.0, so it lives in a venv of its own.
SDK = ["filum-analytics-python==1.1.2"]

# What an app does with the SDK. Only the host differs from production: the SDK appends /events.
# sync_mode is not used: 1.1.2's synchronous path calls post() without the batch it reads.
SCRIPT = """
import json, sys
from datetime import datetime
from dateutil.tz import tzutc
from filum_analytics import Client

url, key, user = sys.argv[1], sys.argv[2], sys.argv[3]
errors = []
client = Client(key, host=url, max_retries=2, on_error=lambda exc, batch: errors.append(
    {"status": exc.status, "code": exc.code, "message": exc.message, "events": len(batch)}))
sent = []
if key != "wrong-key":
    sent.append(client.identify(user_id=user, event_params={
        "Name": "Harry Potter", "Email": "harry@filum.ai", "Age": 17, "Middle Name": None,
    }, context={"page": {"url": "https://example.com/account"}})[1])
sent.append(client.track(
    user_id=user, event_name="Transaction Completed", origin="pos-backend",
    timestamp=datetime(2024, 7, 15, 7, 58, 13, tzinfo=tzutc()),
    event_params={
        "Location Name": "Hà Nội", "Total Value": 1451000.0, "Items": 3, "Paid": True,  # sent as int_value 1
        "Delivered At": datetime(2024, 7, 15, 14, 58, 13, tzinfo=tzutc()), "Coupon": None,
    })[1])
client.flush()
client.join()
print(json.dumps({"sent": sent, "errors": errors}, default=str))
"""


def run_sdk(url: str, key: str, user: str) -> dict[str, Any]:
    python = sdk_python("filum", SDK)
    script = SCRIPT.replace("sys.argv[1], sys.argv[2], sys.argv[3]", f"{url!r}, {key!r}, {user!r}")
    result = run_sdk_script(python, script, timeout=120)
    out: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return out


@pytest.fixture(scope="module")
def gateway(module_gateway_factory: Callable[..., RunningGateway]) -> RunningGateway:
    return module_gateway_factory(CONFIG)


def test_sdk_identify_and_track_reach_the_sink(gateway: RunningGateway) -> None:
    user = "sdk-user-1"
    out = run_sdk(gateway.url, WRITE_KEY, user)
    assert out["errors"] == []
    sent_identify, sent_track = out["sent"]
    events = gateway.wait_for_stdout_events(2, where=lambda e: e.get("userId") == user)
    identify = next(e for e in events if e["type"] == "identify")
    track = next(e for e in events if e["type"] == "track")

    # The SDK's own ids and clocks come through where the canonical event keeps them.
    for event, sent in ((identify, sent_identify), (track, sent_track)):
        assert event["messageId"] == sent["event_id"]
        assert event["sentAt"] == sent["sent_at"]
        assert event["originalTimestamp"] == sent["timestamp"]
        assert event["context"]["ip"] == "127.0.0.1"  # the SDK's empty ip left for the core to fill
    assert track["originalTimestamp"] == "2024-07-15T07:58:13+00:00"

    assert_golden_events(GOLDEN / "sdk_identify.json", [identify], client_times=True)
    assert_golden_events(GOLDEN / "sdk_track.json", [track], sent_at=True)


def test_sdk_reads_our_error_answer(gateway: RunningGateway) -> None:
    # The SDK raises APIError(status, body["code"], body["message"]) and gives up on a 4xx.
    answer = gateway.post("/events", json=[], headers={"Authorization": "Bearer wrong-key"}).json()
    out = run_sdk(gateway.url, "wrong-key", "sdk-user-2")
    expected = {"status": 401, "code": answer["code"], "message": answer["message"], "events": 1}
    assert out["errors"] == [expected]
    assert answer["code"] == "invalid_key"
