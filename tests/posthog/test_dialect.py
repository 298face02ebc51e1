"""The PostHog dialect in-process (gateway.testing's pipeline): routes, key places, posthog-js bodies, mapping."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from gateway_plugins.posthog import ROUTES

from gateway.testing import Pipeline
from gateway.testing.pytest_plugin import Goldens

KEY = "phc_dialect_test_key_0123"
ADMIN = {"Authorization": "Bearer test-admin-key"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture(scope="module")
def gw() -> Iterator[Pipeline]:
    with Pipeline(sources=[{"name": "web", "dialect": "posthog", "api_key": KEY},
                           {"name": "other", "dialect": "posthog", "api_key": "phc_other_project_key"}],
                  config={"admin": {"api_key": "test-admin-key"}}) as pipeline:
        yield pipeline


def js_event(event: str = "clicked", **properties: Any) -> dict[str, Any]:
    """An event as posthog-js builds it: the key and the ids in properties."""
    return {"event": event, "uuid": "0190f3c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d", "timestamp": "2024-05-01T12:00:00.000Z",
            "properties": {"token": KEY, "distinct_id": "user-1", "$device_id": "dev-1", "$lib": "web",
                           "$lib_version": "1.130.0", "$current_url": "https://example.com/", **properties}}


@pytest.mark.parametrize("path", [r.path for r in ROUTES])
def test_every_route_with_and_without_its_slash_takes_events(gw: Pipeline, path: str) -> None:
    outcome = gw.post(path, json={"api_key": KEY, "event": "opened", "distinct_id": "u"})
    assert outcome.status == 200 and outcome.answer["status"] == 1, outcome.answer
    assert [(e["type"], e["event"], e["source"]["name"]) for e in outcome.events] == [("track", "opened", "web")]


def test_the_key_is_read_from_each_place_and_stored_nowhere(gw: Pipeline) -> None:
    places = [
        {"api_key": KEY, "event": "a", "distinct_id": "u"},
        {"token": KEY, "event": "a", "distinct_id": "u"},
        {"event": "a", "properties": {"token": KEY, "distinct_id": "u"}},
        {"api_key": KEY, "batch": [{"event": "a", "distinct_id": "u", "properties": {"token": KEY}}]},
        {"batch": [{"event": "a", "properties": {"token": KEY, "distinct_id": "u"}}]},
        [{"event": "a", "properties": {"token": KEY, "distinct_id": "u"}}],
    ]
    for body in places:
        outcome = gw.post("/e/", json=body)
        assert outcome.status == 200, (body, outcome.answer)
        assert outcome.events[0]["source"]["name"] == "web"
        assert KEY not in json.dumps(outcome.events) + json.dumps(outcome.raw), body


@pytest.mark.parametrize(("body", "code"), [
    ({"event": "a", "distinct_id": "u"}, "missing_key"),
    ({"api_key": "phc_wrong", "event": "a", "distinct_id": "u"}, "invalid_key"),
    ({"api_key": KEY, "event": "a", "properties": {"token": "phc_other_project_key", "distinct_id": "u"}},
     "invalid_key"),
    ([js_event(), {**js_event(), "properties": {"token": "phc_other_project_key", "distinct_id": "u"}}],
     "invalid_key"),
    ({"api_key": 12345, "event": "a", "distinct_id": "u"}, "invalid_key"),
])
def test_a_missing_wrong_or_second_key_is_refused(gw: Pipeline, body: Any, code: str) -> None:
    outcome = gw.post("/batch/", json=body)
    assert (outcome.status, outcome.answer["code"]) == (401, code)
    assert outcome.events == [] and "phc_other_project_key" not in json.dumps(outcome.answer)
    if code == "missing_key":
        assert "api_key" in outcome.answer["message"] and "properties.token" in outcome.answer["message"]


def test_posthog_js_bodies_form_base64_form_json_gzip_js_and_plain(gw: Pipeline) -> None:
    events = [js_event("$pageview", title="Home"), js_event("clicked", button="buy")]
    text = json.dumps(events)
    encoded = quote(base64.b64encode(text.encode()).decode())
    bodies = [
        ("/e/?compression=base64&ver=1.130.0", FORM, ("data=" + encoded).encode()),
        ("/e/?ver=1.130.0", FORM, ("data=" + quote(text)).encode()),
        ("/e/?compression=gzip-js&ver=1.130.0", {"Content-Type": "text/plain"}, gzip.compress(text.encode())),
        ("/e/", {"Content-Type": "application/json"}, text.encode()),
        ("/e/", {"Content-Type": "text/plain"}, text.encode()),
    ]
    for path, headers, content in bodies:
        outcome = gw.post(path, content=content, headers=headers)
        assert outcome.status == 200, (path, outcome.answer)
        assert [(e["type"], e.get("name") or e.get("event")) for e in outcome.events] == \
            [("page", "Home"), ("track", "clicked")], path
        assert outcome.events[0]["context"]["library"] == {"name": "web", "version": "1.130.0"}


@pytest.mark.parametrize(("path", "headers", "content", "status", "code"), [
    ("/e/", FORM, b"data=%%%not-base64", 400, "invalid_body"),
    ("/e/", FORM, b"other=1", 400, "invalid_body"),
    ("/e/", FORM, b"data=" + base64.b64encode(b"not json"), 400, "invalid_json"),
    ("/e/?compression=gzip-js", {}, b"\x1f\x8b garbage", 400, "invalid_gzip"),
    # 30 MB of zeros gzip to 30 KB: the decompression stops at the source's request limit.
    ("/e/?compression=gzip-js", {}, gzip.compress(b"0" * 30 * 1024 * 1024), 413, "payload_too_large"),
])
def test_bad_bodies_get_a_clear_4xx(gw: Pipeline, path: str, headers: dict[str, str], content: bytes,
                                    status: int, code: str) -> None:
    outcome = gw.post(path, content=content, headers=headers)
    assert (outcome.status, outcome.answer["code"]) == (status, code), outcome.answer
    assert outcome.events == []


def test_each_special_event_maps_by_the_readme_table(gw: Pipeline, goldens: Goldens) -> None:
    batch = [
        {"event": "$identify", "distinct_id": "user-1", "$set": {"email": "ada@example.com"},
         "properties": {"$anon_distinct_id": "anon-1", "$set_once": {"first": "2024"}}},
        {"event": "$set", "distinct_id": "user-1", "properties": {"$set": {"plan": "pro"}}},
        {"event": "$pageview", "distinct_id": "user-1", "properties": {"$current_url": "https://example.com/p",
                                                                        "$pathname": "/p"}},
        {"event": "$screen", "distinct_id": "user-1", "properties": {"$screen_name": "Settings"}},
        {"event": "$groupidentify", "distinct_id": "user-1",
         "properties": {"$group_type": "company", "$group_key": "acme", "$group_set": {"name": "Acme"}}},
        {"event": "$create_alias", "distinct_id": "anon-1", "properties": {"alias": "user-1"}},
        {"event": "Order Completed", "distinct_id": 42, "uuid": "0190f3c4-5e6f-7a8b-9c0d-1e2f3a4b5c6e",
         "timestamp": "2024-05-01T11:59:00Z", "properties": {"total": 30}},
    ]
    outcome = gw.post("/batch/", json={"api_key": KEY, "sent_at": "2024-05-01T12:00:00Z", "batch": batch})
    assert outcome.status == 200, outcome.answer
    # The request's sent_at (a batch-level field) reached the one event with a time of its own.
    assert outcome.events[-1]["sentAt"] == "2024-05-01T12:00:00Z"
    goldens.events("mapping", outcome.events)


def test_an_event_without_distinct_id_is_rejected_the_others_kept(gw: Pipeline) -> None:
    outcome = gw.post("/batch/", json={"api_key": KEY, "batch": [{"event": "a", "distinct_id": "u"},
                                                                 {"event": "b", "properties": {}}]})
    assert outcome.status == 200 and len(outcome.events) == 1
    assert outcome.answer["rejected"][0]["field"] == "batch[1].distinct_id"
    assert outcome.rejections[0]["field"] == "batch[1].distinct_id"


def test_the_admin_api_shows_the_key_only_as_its_end_and_creates_sources(gw: Pipeline) -> None:
    shown = gw.post("/api/v1/sources/web", method="GET", headers=ADMIN)
    assert shown.status == 200 and KEY not in json.dumps(shown.answer)
    assert shown.answer["source"]["settings"]["api_key"] == "…" + KEY[-4:]
    created = gw.post("/api/v1/sources", json={"name": "made", "dialect": "posthog"}, headers=ADMIN)
    assert created.status == 201, created.answer
    key = created.answer["credentials"]["api_key"]
    assert key.startswith("phc_")
    assert gw.post("/capture/", json={"api_key": key, "event": "a", "distinct_id": "u"}).status == 200
