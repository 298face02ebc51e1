"""The official ``posthog`` Python SDK, in its own virtual environment, against a real gateway (kit fixtures)."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.testing import GatewayServer
from gateway.testing.pytest_plugin import Goldens
from tests.conftest import BASE_CONFIG
from tests.support.sdk_venv import run_sdk_script, sdk_python

SDK = ["posthog==7.91.1"]
API_KEY = "phc_sdk_test_key_0123456789"
CONFIG = f"""{BASE_CONFIG}
[[sources]]
name = "app"
dialect = "posthog"
api_key = "{API_KEY}"
"""

# Every call of the SDK that sends events, in sync mode so each is its own request. The session's
# post is wrapped to record the Content-Encoding the SDK really used.
SCRIPT = """
import json, requests
from posthog import Posthog
sent = []
post = requests.Session.post
def recording(self, url, **kwargs):
    sent.append([url, (kwargs.get("headers") or {{}}).get("Content-Encoding")])
    return post(self, url, **kwargs)
requests.Session.post = recording
errors = []
ph = Posthog({api_key!r}, host={host!r}, gzip={gzip!r}, sync_mode=True,
             on_error=lambda error, items: errors.append(str(error)))
ph.capture("Order Completed", distinct_id="user-1", properties={{"total": 30, "$set": {{"plan": "pro"}}}})
ph.capture("$pageview", distinct_id="user-1", properties={{"$current_url": "https://example.com/pricing",
                                                          "title": "Pricing"}})
ph.capture("$screen", distinct_id="user-1", properties={{"$screen_name": "Home"}})
ph.set(distinct_id="user-1", properties={{"email": "ada@example.com"}})
ph.set_once(distinct_id="user-1", properties={{"first_seen": "2024-05-01"}})
ph.group_identify("company", "acme", {{"name": "Acme"}}, distinct_id="user-1")
ph.alias("anon-9", "user-1")
ph.capture_exception(ValueError("boom"), distinct_id="user-1")
ph.flush()
ph.shutdown()
print(json.dumps({{"errors": errors, "sent": sent}}))
"""


@pytest.fixture(scope="module")
def python() -> Path:
    return sdk_python("posthog", SDK)


@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
def test_every_sdk_call_reaches_the_sink_as_its_canonical_event(
        python: Path, gateway_server: Callable[..., GatewayServer], goldens: Goldens, gzip: bool) -> None:
    server = gateway_server(CONFIG)
    script = SCRIPT.format(api_key=API_KEY, host=server.url, gzip=gzip)
    result = json.loads(run_sdk_script(python, textwrap.dedent(script), timeout=90).stdout.strip().splitlines()[-1])
    assert result["errors"] == []
    batches = [s for s in result["sent"] if s[0].endswith("/batch/")]
    assert len(batches) == 8 and all(encoding == ("gzip" if gzip else None) for _, encoding in batches)
    events = server.wait_for_stdout_events(8)
    assert [e["type"] for e in events] == ["track", "page", "screen", "identify", "identify", "group", "alias",
                                           "track"]
    exception = events.pop()
    assert exception["event"] == "$exception" and exception["userId"] == "user-1"
    # The key the SDK put in the body is nowhere in what the sink received.
    assert API_KEY not in json.dumps(events) + json.dumps(exception)
    for event in events[:3]:  # what the SDK says of the machine it runs on: there, but not the same everywhere
        assert event["properties"].pop("$python_version") and event["properties"].pop("$os")
        for key in ("$os_version", "$os_distro", "$python_runtime"):
            event["properties"].pop(key, None)
    # One golden file for both runs: gzip changes the wire, not the events.
    goldens.events("sdk_calls", events, client_times=True)
