"""The official ``usermaven`` Python SDK, in its own virtual environment, against a real gateway."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BASE_CONFIG, GatewayFactory
from tests.support.sdk_venv import run_sdk_script, sdk_python
from tests.support.server import RunningGateway

SDK = ["usermaven==0.1.2"]
CONFIG = f"""{BASE_CONFIG}
[[sources]]
name = "backend"
dialect = "usermaven"
api_key = "UMsdk1234"
server_token = "sec_sdk_token"

[[sinks]]
name = "console"
type = "stdout"
"""

# Module-level client, as the SDK's README uses it; on_error collects what the SDK reports.
SCRIPT = """
import json, usermaven
errors = []
usermaven.api_key = {api_key!r}
usermaven.server_token = {server_token!r}
usermaven.host = {host!r}
usermaven.on_error = lambda error, batch: errors.append(str(error))
company = {{"id": "c-77", "name": "Acme", "created_at": "2021-03-04T05:06:07", "custom": {{"seats": 12}}}}
usermaven.identify({{"id": "sdk-user-1", "email": "ada@example.com", "created_at": "2022-01-02T03:04:05",
                     "custom": {{"plan": "pro"}}}}, company=company)
usermaven.track(42, "plan_upgraded", company=company, event_attributes={{"amount": 100, "currency": "USD"}})
usermaven.shutdown()
print(json.dumps(errors))
"""


@pytest.fixture(scope="module")
def python() -> Path:
    return sdk_python("usermaven", SDK)


@pytest.fixture(scope="module")
def gateway(module_gateway_factory: GatewayFactory) -> Iterator[RunningGateway]:
    yield module_gateway_factory(CONFIG)


def run(python: Path, gateway: RunningGateway, server_token: str = "sec_sdk_token") -> list[str]:
    script = SCRIPT.format(api_key="UMsdk1234", server_token=server_token, host=gateway.url)
    result = run_sdk_script(python, textwrap.dedent(script), timeout=60)
    errors: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return errors


def test_sdk_identify_with_company_and_track_reach_the_sink(python: Path, gateway: RunningGateway) -> None:
    before = len(gateway.stdout_events())
    assert run(python, gateway) == []
    events = gateway.wait_for_stdout_events(before + 3)[before:]
    by_type = {e["type"]: e for e in events}
    assert sorted(by_type) == ["group", "identify", "track"]

    identify, group, track = by_type["identify"], by_type["group"], by_type["track"]
    assert identify["userId"] == "sdk-user-1"
    assert identify["anonymousId"]  # the SDK makes up a random one per call
    assert identify["traits"] == {"email": "ada@example.com", "createdAt": "2022-01-02T03:04:05",
                                  "plan": "pro"}
    assert identify["context"]["groupId"] == "c-77"
    assert identify["context"]["library"] == {"name": "usermaven-python"}

    assert group["groupId"] == "c-77"
    assert group["userId"] == "sdk-user-1"
    assert group["traits"] == {"name": "Acme", "createdAt": "2021-03-04T05:06:07", "seats": 12}

    assert track["event"] == "plan_upgraded"
    assert track["userId"] == "42"
    assert track["properties"] == {"amount": 100, "currency": "USD"}
    assert track["context"]["groupId"] == "c-77"
    assert track["context"]["usermaven"]["company"]["custom"] == {"seats": 12}

    # The SDK sends neither a time nor an event id: the core stamps both, distinct per event.
    assert len({e["messageId"] for e in events}) == 3
    for event in events:
        assert event["timestamp"] == event["receivedAt"]
        assert event["source"]["name"] == "backend"


def test_sdk_reports_the_gateway_detail_on_a_wrong_token(python: Path, gateway: RunningGateway) -> None:
    errors = run(python, gateway, server_token="sec_wrong")
    # One error per failed upload (a 401 is not retried); the SDK's message is the answer's ``detail``.
    assert errors, "the SDK reported no error"
    assert all("(401)" in e and "no source of this endpoint" in e for e in errors), errors
