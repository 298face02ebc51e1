"""The sources admin API over HTTP, against a real gateway with the test-only probe dialect."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from tests.admin.support import ADMIN, CONFIG, create, get, send
from tests.conftest import GatewayFactory
from tests.support.payloads import nested_object
from tests.support.server import RunningGateway


@pytest.fixture(scope="module")
def gw(module_gateway_factory: GatewayFactory) -> RunningGateway:
    return module_gateway_factory(CONFIG)


ROUTES = [
    ("GET", "/api/v1/sources"),
    ("POST", "/api/v1/sources"),
    ("GET", "/api/v1/sources/probe"),
    ("DELETE", "/api/v1/sources/probe"),
    ("POST", "/api/v1/sources/probe/rotate-key"),
    ("GET", "/api/v1/sources/probe/status"),
    ("GET", "/api/v1/sources/probe/events"),
    ("GET", "/api/v1/sources/probe/rejections"),
    ("GET", "/api/v1/dialects"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("authorization", [None, "Bearer wrong-key", "probe-write-key"])
def test_every_route_needs_the_admin_key(gw: RunningGateway, method: str, path: str,
                                         authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    r = gw.client.request(method, path, headers=headers, json={"name": "x", "dialect": "probe"})
    assert r.status_code == 401
    assert set(r.json()) == {"code", "message", "detail"}


def test_config_source_is_listed_read_only_without_its_key(gw: RunningGateway) -> None:
    r = gw.get("/api/v1/sources", headers=ADMIN)
    assert r.status_code == 200
    assert "probe-write-key" not in r.text
    probe = next(s for s in r.json()["sources"] if s["name"] == "probe")
    assert probe["origin"] == "config"
    assert probe["read_only"] is True
    assert probe["dialect"] == "probe"
    assert probe["key_hint"] == "…-key"
    assert probe["settings"]["write_key"] == "…-key"
    assert [e["path"] for e in probe["endpoints"]] == ["/probe/track", "/probe/batch"]


def test_created_source_shows_its_key_once_then_connects(gw: RunningGateway) -> None:
    created = create(gw, "shop")
    key = created["credentials"]["write_key"]
    assert created["key"] == key and len(key) >= 24
    assert created["source"]["origin"] == "api" and created["source"]["read_only"] is False

    shown = gw.get("/api/v1/sources/shop", headers=ADMIN)
    assert key not in shown.text
    assert shown.json()["source"]["key_hint"] == "…" + key[-4:]

    status = get(gw, "/api/v1/sources/shop/status")
    assert status["status"] == "no activity" and status["connected"] is False
    assert status["last_event_at"] is None
    assert "not connected" in status["message"]

    send(gw, key, userId="john.snow@example.com", properties={"name": "John Snow"})
    status = get(gw, "/api/v1/sources/shop/status")
    assert status["status"] == "connected" and status["connected"] is True
    assert datetime.fromisoformat(status["last_event_at"]).timestamp() == pytest.approx(time.time(), abs=60)

    listed = next(s for s in get(gw, "/api/v1/sources")["sources"] if s["name"] == "shop")
    assert (listed["status"], listed["events_total"], listed["events_24h"]) == ("connected", 1, 1)
    events = get(gw, "/api/v1/sources/shop/events")["events"]
    assert len(events) == 1
    assert events[0]["event"]["event"] == "signed_up"
    assert events[0]["event"]["properties"] == {"name": "John Snow"}
    assert events[0]["event"]["source"]["name"] == "shop"
    assert events[0]["raw"] == {"event": "signed_up", "userId": "john.snow@example.com",
                                "properties": {"name": "John Snow"}}


def test_events_come_newest_first_in_pages(gw: RunningGateway) -> None:
    key = create(gw, "paging")["credentials"]["write_key"]
    for i in range(5):
        send(gw, key, event=f"e{i}")
    seen: list[str] = []
    before = None
    for _ in range(5):
        params = {"limit": 2, **({"before": before} if before else {})}
        page = get(gw, "/api/v1/sources/paging/events", **params)
        seen += [e["event"]["event"] for e in page["events"]]
        before = page["next_before"]
        if before is None:
            break
    assert seen == ["e4", "e3", "e2", "e1", "e0"]


def test_rejections_show_reason_and_payload(gw: RunningGateway) -> None:
    key = create(gw, "picky")["credentials"]["write_key"]
    r = gw.post("/probe/batch", json={"batch": [{"event": "fine"}, {"event": "forbidden-word", "userId": "u9"}]},
                auth=(key, ""))
    assert r.status_code == 200, r.text
    rejections = get(gw, "/api/v1/sources/picky/rejections")["rejections"]
    assert len(rejections) == 1
    rejected = rejections[0]
    assert rejected["reason"] == "event may not be forbidden-word"
    assert rejected["field"] == "batch[1].event"
    assert rejected["index"] == 1
    assert rejected["payload"] == {"event": "forbidden-word", "userId": "u9"}
    source = get(gw, "/api/v1/sources/picky")["source"]
    assert (source["events_total"], source["rejected_total"]) == (1, 1)
    assert source["last_error"] == "event may not be forbidden-word"


def test_events_and_rejections_nested_as_deep_as_stored_are_shown(gw: RunningGateway) -> None:
    # Stored means written once at this depth; shown inside the answer's own objects it is a few levels
    # deeper, past what orjson writes (a 500 once: found by the fuzz test).
    key = create(gw, "deep")["credentials"]["write_key"]
    deep = nested_object(251)
    r = gw.post("/probe/batch", json={"batch": [{"event": "fine", "properties": deep},
                                                {"event": "forbidden-word", "properties": deep}]}, auth=(key, ""))
    assert r.status_code == 200, r.text
    events = get(gw, "/api/v1/sources/deep/events")["events"]
    assert [e["event"]["properties"] for e in events] == [deep]
    assert [e["raw"] for e in events] == [{"event": "fine", "properties": deep}]
    rejections = get(gw, "/api/v1/sources/deep/rejections")["rejections"]
    assert [r["payload"] for r in rejections] == [{"event": "forbidden-word", "properties": deep}]


def test_status_says_why_when_every_event_was_rejected(gw: RunningGateway) -> None:
    key = create(gw, "allbad")["credentials"]["write_key"]
    r = gw.post("/probe/track", json={"event": "forbidden-word"}, auth=(key, ""))
    assert r.status_code == 400
    status = get(gw, "/api/v1/sources/allbad/status")
    assert status["status"] == "no activity"
    assert "rejected" in status["message"] and "forbidden-word" in status["message"]


@pytest.mark.parametrize(("body", "words"), [
    ({"dialect": "probe"}, ["name"]),
    ({"name": "has space", "dialect": "probe"}, ["name"]),
    ({"name": "nodialect"}, ["dialect"]),
    ({"name": "baddialect", "dialect": "nope"}, ["unknown dialect", "probe"]),
    ({"name": "typo", "dialect": "probe", "wirte_key": "abcdefghijk"}, ["wirte_key"]),
    ({"name": "shortkey", "dialect": "probe", "write_key": "short"}, ["write_key"]),
    ({"name": "badmode", "dialect": "probe", "batch_mode": "sometimes"}, ["batch_mode"]),
    ({"name": "badsettings", "dialect": "probe", "settings": [1]}, ["settings"]),
])
def test_create_refuses_invalid_tables(gw: RunningGateway, body: dict[str, object], words: list[str]) -> None:
    r = gw.post("/api/v1/sources", json=body, headers=ADMIN)
    assert r.status_code == 400, r.text
    for word in words:
        assert word in r.json()["message"]
    if "name" in body:
        assert gw.get(f"/api/v1/sources/{body['name']}", headers=ADMIN).status_code == 404


@pytest.mark.parametrize("content", [b"not json", b"[1, 2]", b""])
def test_create_refuses_a_body_that_is_not_an_object(gw: RunningGateway, content: bytes) -> None:
    r = gw.post("/api/v1/sources", content=content, headers={**ADMIN, "Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["code"]


def test_settings_may_come_nested(gw: RunningGateway) -> None:
    created = create(gw, "nested", settings={"write_key": "nested-key-123", "batch_mode": "atomic"})
    assert created["credentials"] == {"write_key": "nested-key-123"}
    assert created["source"]["settings"]["batch_mode"] == "atomic"
    send(gw, "nested-key-123")


def test_create_refuses_taken_names_and_keys(gw: RunningGateway) -> None:
    r = gw.post("/api/v1/sources", json={"name": "probe", "dialect": "probe"}, headers=ADMIN)
    assert (r.status_code, r.json()["code"]) == (409, "conflict")
    create(gw, "twice")
    r = gw.post("/api/v1/sources", json={"name": "twice", "dialect": "probe"}, headers=ADMIN)
    assert (r.status_code, r.json()["code"]) == (409, "conflict")
    r = gw.post("/api/v1/sources", json={"name": "samekey", "dialect": "probe", "write_key": "probe-write-key"},
                headers=ADMIN)
    assert r.status_code == 409
    assert "probe" in r.json()["message"]
    assert gw.get("/api/v1/sources/samekey", headers=ADMIN).status_code == 404


def test_config_sources_are_read_only(gw: RunningGateway) -> None:
    for method, path in (("DELETE", "/api/v1/sources/probe"), ("POST", "/api/v1/sources/probe/rotate-key")):
        r = gw.client.request(method, path, headers=ADMIN)
        assert (r.status_code, r.json()["code"]) == (409, "read_only"), r.text
        assert "config file" in r.json()["message"]
    send(gw, "probe-write-key")


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/v1/sources/nope"), ("DELETE", "/api/v1/sources/nope"),
    ("POST", "/api/v1/sources/nope/rotate-key"), ("GET", "/api/v1/sources/nope/status"),
    ("GET", "/api/v1/sources/nope/events"), ("GET", "/api/v1/sources/nope/rejections"),
])
def test_unknown_source_is_404(gw: RunningGateway, method: str, path: str) -> None:
    r = gw.client.request(method, path, headers=ADMIN)
    assert (r.status_code, r.json()["code"]) == (404, "not_found")
    assert "nope" in r.json()["message"]


def test_rotation_keeps_the_old_key_for_the_grace_period(gw: RunningGateway) -> None:
    first = create(gw, "rot")["credentials"]["write_key"]
    rotated = gw.post("/api/v1/sources/rot/rotate-key", headers=ADMIN)
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()["credentials"]["write_key"]
    assert second != first
    expires = datetime.fromisoformat(rotated.json()["previous_key_expires_at"]).timestamp()
    assert expires == pytest.approx(time.time() + 24 * 3600, abs=120)
    send(gw, first)
    send(gw, second)
    source = get(gw, "/api/v1/sources/rot")["source"]
    assert source["key_hint"] == "…" + second[-4:]
    assert [k["key_hint"] for k in source["previous_keys"]] == ["…" + first[-4:]]

    now = gw.post("/api/v1/sources/rot/rotate-key", json={"grace_seconds": 0}, headers=ADMIN)
    assert now.status_code == 200
    assert now.json()["previous_key_expires_at"] is None
    third = now.json()["credentials"]["write_key"]
    refused = gw.post("/probe/track", json={"event": "x"}, auth=(second, ""))
    assert (refused.status_code, refused.json()["code"]) == (401, "invalid_key")
    send(gw, third)
    send(gw, first)  # its own grace period, from the first rotation, still runs


def test_rotation_refuses_a_bad_grace_period(gw: RunningGateway) -> None:
    key = create(gw, "grace")["credentials"]["write_key"]
    for grace in (-1, "soon", True, None, 10**9):
        r = gw.post("/api/v1/sources/grace/rotate-key", json={"grace_seconds": grace}, headers=ADMIN)
        assert r.status_code == 400, grace
        assert "grace_seconds" in r.json()["message"]
    send(gw, key)  # nothing was rotated


def test_delete_stops_the_key_and_a_new_source_of_that_name_starts_afresh(gw: RunningGateway) -> None:
    key = create(gw, "gone")["credentials"]["write_key"]
    send(gw, key)
    assert gw.client.request("DELETE", "/api/v1/sources/gone", headers=ADMIN).status_code == 204
    refused = gw.post("/probe/track", json={"event": "x"}, auth=(key, ""))
    assert refused.status_code == 401
    assert gw.get("/api/v1/sources/gone", headers=ADMIN).status_code == 404
    assert "gone" not in [s["name"] for s in get(gw, "/api/v1/sources")["sources"]]

    again = create(gw, "gone")["source"]
    assert (again["status"], again["events_total"], again["events_24h"]) == ("no activity", 0, 0)
    assert get(gw, "/api/v1/sources/gone/events")["events"] == []


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "limit=ten", "before=-1", "before=0"])
def test_paging_parameters_are_checked(gw: RunningGateway, query: str) -> None:
    for kind in ("events", "rejections"):
        r = gw.get(f"/api/v1/sources/probe/{kind}?{query}", headers=ADMIN)
        assert (r.status_code, r.json()["code"]) == (400, "invalid_query"), r.text
        assert query.split("=")[0] in r.json()["message"]


def test_dialects_are_listed_for_the_create_form(gw: RunningGateway) -> None:
    dialects = {d["name"]: d for d in get(gw, "/api/v1/dialects")["dialects"]}
    assert "probe" in dialects
    assert "write_key" in dialects["probe"]["settings"]
    assert "HTTP Basic" in dialects["probe"]["send_key"]


def test_the_page_is_served_without_the_key_and_loads_nothing_from_elsewhere(gw: RunningGateway) -> None:
    page = gw.get("/admin")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "connect-src 'self'" in page.headers["content-security-policy"]
    assert "test-admin-key" not in page.text
    for asset, kind in (("/admin/static/admin.js", "javascript"), ("/admin/static/admin.css", "css")):
        r = gw.get(asset)
        assert r.status_code == 200 and kind in r.headers["content-type"]
        assert "http://" not in r.text and "https://" not in r.text
    assert "http://" not in page.text and "https://" not in page.text
    assert gw.get("/admin/static/nothing.js").status_code == 404
