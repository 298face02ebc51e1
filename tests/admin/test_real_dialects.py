"""Sources of the built-in dialects made through the API, used the way their clients use them."""

from __future__ import annotations

import pytest

from tests.admin.support import ADMIN, CONFIG, create, get
from tests.conftest import GatewayFactory
from tests.support.server import RunningGateway


@pytest.fixture(scope="module")
def gw(module_gateway_factory: GatewayFactory) -> RunningGateway:
    return module_gateway_factory(CONFIG)


def test_segment_style_source_takes_events_with_its_generated_key(gw: RunningGateway) -> None:
    created = create(gw, "backend", "segment_style")
    key = created["credentials"]["write_key"]
    assert "/v1/track" in [e["path"] for e in created["source"]["endpoints"]]
    assert get(gw, "/api/v1/sources/backend/status")["status"] == "no activity"

    track = {"userId": "john.snow@example.com", "event": "signed_up", "properties": {"name": "John Snow"}}
    r = gw.post("/v1/track", json=track, auth=(key, ""))  # RudderStack and Segment SDKs: Basic, key as user
    assert r.status_code == 200, r.text
    r = gw.post("/analytics/v1/track", json={**track, "event": "body_key", "writeKey": key})  # DIDWW style
    assert r.status_code == 200, r.text

    assert get(gw, "/api/v1/sources/backend/status")["status"] == "connected"
    events = get(gw, "/api/v1/sources/backend/events")["events"]
    assert [e["event"]["event"] for e in events] == ["body_key", "signed_up"]
    assert events[1]["event"]["type"] == "track"
    assert events[1]["event"]["userId"] == "john.snow@example.com"
    assert events[1]["event"]["properties"] == {"name": "John Snow"}
    assert events[1]["event"]["source"] == {"id": created["source"]["id"], "name": "backend",
                                           "dialect": "segment_style"}
    assert events[1]["raw"]["event"] == "signed_up"
    assert "writeKey" not in events[0]["raw"]  # the body key is taken out before anything is stored


def test_usermaven_rotation_changes_only_the_secret_half(gw: RunningGateway) -> None:
    created = create(gw, "site", "usermaven")
    credentials = created["credentials"]
    assert set(credentials) == {"api_key", "server_token"}
    assert created["key"] == f"{credentials['api_key']}.{credentials['server_token']}"
    shown = get(gw, "/api/v1/sources/site")["source"]
    assert shown["settings"]["api_key"] == credentials["api_key"]  # semi-public: it rides in every event
    assert credentials["server_token"] not in str(shown)

    rotated = gw.post("/api/v1/sources/site/rotate-key", json={"grace_seconds": 0}, headers=ADMIN).json()
    assert set(rotated["credentials"]) == {"server_token"}
    assert rotated["credentials"]["server_token"] != credentials["server_token"]
    assert rotated["key"] == f"{credentials['api_key']}.{rotated['credentials']['server_token']}"
