"""The dialect in-process, through the kit's pipeline: seed payloads to golden events, the envelope, the mapping."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from gateway_plugins.segment_style import DIALECT

from gateway import ConfigError, hookimpl
from gateway.testing import Pipeline, check_source

from .golden import assert_golden
from .pipeline import NO_IDENTITY_KEY, SOURCES, SegmentPipeline, open_pipeline
from .seeds import EXAMPLES, WRITE_KEY, Example


@pytest.fixture(scope="module")
def seg() -> Iterator[SegmentPipeline]:
    yield from open_pipeline()


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.name)
def test_seed_examples_map_to_golden_events(seg: SegmentPipeline, example: Example) -> None:
    assert_golden(example.golden, seg.run(example.path, example.text()))


def test_every_route_is_post_only_under_both_prefixes_but_the_pixel() -> None:
    paths = {route.path: route for route in DIALECT.routes}
    kinds = ["track", "identify", "page", "screen", "group", "alias", "batch", "import",
             "t", "i", "p", "s", "g", "a", "b"]  # analytics-next's short paths
    pixel = {"/pixel/v1/track", "/pixel/v1/page"}
    assert set(paths) == {f"{prefix}/{kind}" for prefix in ("/v1", "/analytics/v1") for kind in kinds} | {
        "/beacon/v1/batch", *pixel}
    assert all(route.methods == ("POST",) for route in DIALECT.routes if route.path not in pixel)
    assert all(paths[path].methods == ("GET",) for path in pixel)
    assert paths["/analytics/v1/page"].kind == "page"
    assert (paths["/v1/t"].kind, paths["/v1/a"].kind, paths["/analytics/v1/b"].kind) == ("track", "alias", "batch")


def test_the_route_gives_the_type_and_a_matching_body_type_is_fine(seg: SegmentPipeline) -> None:
    [without] = seg.run("/v1/screen", {"userId": "u1", "name": "Home"})
    [with_type] = seg.run("/analytics/v1/screen", {"userId": "u1", "name": "Home", "type": "screen"})
    assert without["type"] == with_type["type"] == "screen"


def test_a_body_type_contradicting_the_path_is_refused_naming_type(seg: SegmentPipeline) -> None:
    error = seg.error_of("/v1/track", {"type": "identify", "userId": "u1", "event": "x"})
    assert (error.status, error.code) == (400, "type_mismatch")
    assert error.detail == {"field": "type", "expected": "track", "found": "'identify'"}
    assert "identify" in error.message


@pytest.mark.parametrize(("body", "found"), [
    ({}, "no batch"),
    ({"batch": {"type": "track"}}, "batch is an object"),
    ({"batch": "[]"}, "batch is a string"),
    ([{"type": "track"}], "the body is an array"),
])
def test_batch_needs_a_batch_array(seg: SegmentPipeline, body: Any, found: str) -> None:
    error = seg.error_of("/v1/batch", body)
    assert (error.status, error.code, error.detail) == (400, "invalid_batch", {"field": "batch"})
    assert found in error.message


def test_an_empty_batch_is_refused(seg: SegmentPipeline) -> None:
    error = seg.error_of("/v1/import", {"batch": []})
    assert (error.status, error.code, error.detail) == (400, "empty_batch", {"field": "batch"})


def test_batch_level_context_integrations_and_sent_at_fill_in_what_items_lack(seg: SegmentPipeline) -> None:
    body = {
        "context": {"library": {"name": "batcher"}},
        "integrations": {"All": False},
        "sentAt": "2024-05-01T12:00:10Z",
        "batch": [
            {"type": "track", "event": "A", "userId": "u1", "timestamp": "2024-05-01T12:00:00Z"},
            {"type": "track", "event": "B", "userId": "u1", "context": {"locale": "fr"},
             "integrations": {"Mixpanel": True}, "sentAt": "2024-05-01T12:00:00Z",
             "timestamp": "2024-05-01T12:00:00Z"},
        ],
    }
    first, second = seg.run("/v1/batch", body)
    assert first["context"] == {"library": {"name": "batcher"}, "ip": "127.0.0.1"}
    assert first["integrations"] == {"All": False}
    assert first["sentAt"] == "2024-05-01T12:00:10Z"
    # sentAt is 10 s after the item's time: it happened 10 s before the gateway received the batch
    # (the client's clock is corrected by receivedAt - sentAt).
    happened = datetime.fromisoformat(first["receivedAt"]) - timedelta(seconds=10)
    assert abs(datetime.fromisoformat(first["timestamp"]) - happened) <= timedelta(milliseconds=1), first
    assert first["originalTimestamp"] == "2024-05-01T12:00:00Z"
    assert second["context"] == {"locale": "fr", "ip": "127.0.0.1"}
    assert second["integrations"] == {"Mixpanel": True}
    assert second["timestamp"] == second["receivedAt"]  # its own sentAt: sent as it happened


def test_each_item_gets_its_own_copy_of_the_batch_context(seg: SegmentPipeline) -> None:
    first, second = seg.run("/v1/batch", {"context": {"app": {"name": "shop"}}, "batch": [
        {"type": "track", "event": "A", "userId": "u1"},
        {"type": "track", "event": "B", "userId": "u1"},
    ]})
    assert first["context"] == second["context"] == {"app": {"name": "shop"}, "ip": "127.0.0.1"}


class MarkContext:
    """A transform that writes into each event's context: a context shared between events shows it twice."""

    @hookimpl
    def transform_event(self, event: dict[str, Any]) -> dict[str, Any]:
        event["context"][f"seen_{event['event']}"] = True
        return event


def test_a_transform_changing_one_events_batch_context_leaves_the_others_alone() -> None:
    with Pipeline(sources=SOURCES, plugins=[MarkContext()]) as gw:
        outcome = gw.post("/v1/batch", auth=(WRITE_KEY, ""), json={"context": {"app": {"name": "shop"}}, "batch": [
            {"type": "track", "event": "A", "userId": "u1"},
            {"type": "track", "event": "B", "userId": "u1"},
        ]})
    first, second = outcome.events
    assert first["context"] == {"app": {"name": "shop"}, "ip": "127.0.0.1", "seen_A": True}
    assert second["context"] == {"app": {"name": "shop"}, "ip": "127.0.0.1", "seen_B": True}


def test_a_write_key_inside_a_batch_item_is_not_stored(seg: SegmentPipeline) -> None:
    [event] = seg.run("/v1/batch", {"batch": [{"type": "track", "event": "A", "userId": "u1", "writeKey": WRITE_KEY}]})
    assert "writeKey" not in event


def test_identify_carries_rudderstack_context_traits_in_traits_too(seg: SegmentPipeline) -> None:
    context = {"traits": {"email": "a@example.com", "plan": "free"}, "library": {"name": "analytics-python"}}
    [event] = seg.run("/v1/identify", {"userId": "u1", "context": context, "traits": {"plan": "pro"}})
    assert event["traits"] == {"email": "a@example.com", "plan": "pro"}  # the top-level value wins
    assert event["context"]["traits"] == {"email": "a@example.com", "plan": "free"}  # context as sent
    assert event["context"]["library"] == {"name": "analytics-python"}


def test_only_identify_lifts_context_traits(seg: SegmentPipeline) -> None:
    [event] = seg.run("/v1/track", {"userId": "u1", "event": "A", "context": {"traits": {"plan": "pro"}}})
    assert "traits" not in event


def test_numeric_ids_become_strings(seg: SegmentPipeline) -> None:
    [event] = seg.run("/v1/alias", {"userId": 42, "previousId": 7.0, "messageId": 12345})
    assert (event["userId"], event["previousId"], event["messageId"]) == ("42", "7", "12345")
    [group] = seg.run("/v1/group", {"anonymousId": 1.5, "groupId": 99})
    assert (group["anonymousId"], group["groupId"]) == ("1.5", "99")


def test_client_message_id_timestamp_and_library_are_kept_and_nulls_dropped(seg: SegmentPipeline) -> None:
    body = {"messageId": "m-1", "anonymousId": "a1", "userId": None, "event": "Played", "category": None,
            "timestamp": "2024-04-30T10:00:00.000+02:00", "channel": "server",
            "context": {"library": {"name": "lib", "version": "1"}}}
    [event] = seg.run("/v1/track", body)
    assert event["messageId"] == "m-1"
    assert event["originalTimestamp"] == "2024-04-30T10:00:00.000+02:00"
    assert event["timestamp"] == "2024-04-30T08:00:00.000Z"
    assert event["context"]["library"] == {"name": "lib", "version": "1"}
    assert event["channel"] == "server"  # keys beyond Segment's spec are kept
    assert "userId" not in event and "category" not in event


@pytest.mark.parametrize("ids", [{}, {"userId": ""}, {"userId": None, "anonymousId": ""}])
def test_an_event_must_name_its_user(seg: SegmentPipeline, ids: dict[str, Any]) -> None:
    error = seg.error_of("/v1/track", {"event": "A", **ids})
    assert error.item_error
    assert (error.status, error.code, error.field) == (400, "missing_identity", "userId")
    assert "anonymousId" in error.message


def test_a_source_may_accept_events_without_a_user(seg: SegmentPipeline) -> None:
    [event] = seg.run("/v1/track", {"event": "A"}, NO_IDENTITY_KEY)
    assert event["event"] == "A" and "userId" not in event


def test_the_user_check_names_the_batch_item(seg: SegmentPipeline) -> None:
    # The core prefixes an InvalidEvent's field with the item's place; the mapping gives the field.
    error = seg.error_of("/v1/batch", {"batch": [{"type": "page", "userId": "u1"}, {"type": "page"}]})
    assert error.item_error and error.code == "missing_identity"
    assert error.field == error.detail["rejected"][0]["field"] == "batch[1].userId"


@pytest.mark.parametrize(("path", "body", "field", "says"), [
    ("/v1/track", {"userId": "u"}, "event", "event is required"),
    ("/v1/track", {"userId": "u", "event": None}, "event", "must be a string"),
    ("/v1/track", {"userId": "u", "event": ""}, "event", "non-empty"),
    ("/v1/track", {"userId": "u", "event": 5}, "event", "must be a string"),
    ("/v1/alias", {"userId": "u"}, "previousId", "previousId is required"),
    ("/v1/alias", {"previousId": "p", "anonymousId": "a"}, "userId", "userId is required"),
    ("/v1/alias", {"previousId": "", "userId": "u"}, "previousId", "non-empty"),
    ("/v1/group", {"userId": "u"}, "groupId", "groupId is required"),
    ("/v1/group", {"userId": "u", "groupId": True}, "groupId", "not boolean"),
    ("/v1/track", {"userId": "u", "event": "e", "properties": []}, "properties", "must be an object"),
    ("/v1/identify", {"userId": "u", "traits": "vip"}, "traits", "must be an object"),
    ("/v1/page", {"userId": "u", "context": 1}, "context", "must be an object"),
    ("/v1/page", {"userId": "u", "context": {"traits": []}}, "context.traits", "must be an object"),
    ("/v1/screen", {"userId": "u", "integrations": [True]}, "integrations", "must be an object"),
    ("/v1/screen", {"userId": {"id": 1}}, "userId", "must be a string or number"),
    ("/v1/track", {"userId": "u", "event": "e", "timestamp": "yesterday"}, "timestamp", "does not match"),
    ("/v1/track", {"userId": "u", "event": "e", "timestamp": "2024-13-01T00:00:00Z"}, "timestamp",
     "does not match"),
    ("/v1/track", {"userId": "u", "event": "e", "sentAt": 1714560000}, "sentAt", "must be a string"),
    ("/v1/track", {"userId": "u", "event": "e", "originalTimestamp": "1 May"}, "originalTimestamp",
     "does not match"),
])
def test_schema_rules_name_the_field(seg: SegmentPipeline, path: str, body: dict[str, Any], field: str,
                                     says: str) -> None:
    error = seg.error_of(path, body)
    assert error.item_error
    assert error.status == 400
    assert error.field == field
    assert says in error.message


def test_batch_items_are_checked_against_their_own_type(seg: SegmentPipeline) -> None:
    batch = {"batch": [{"type": "identify", "userId": "u"}, {"type": "track", "userId": "u"}]}
    error = seg.error_of("/v1/batch", batch)
    assert error.item_error and error.field == "batch[1].event"
    error = seg.error_of("/v1/batch", {"batch": [{"userId": "u"}]})
    assert error.item_error and error.field == "batch[0].type"
    error = seg.error_of("/v1/batch", {"batch": [{"type": "click", "userId": "u"}]})
    assert error.item_error and "must be one of" in error.message
    error = seg.error_of("/v1/batch", {"batch": ["track"]})
    assert error.item_error and error.field == "batch[0]"


def test_a_non_object_body_on_a_single_route_is_a_schema_error(seg: SegmentPipeline) -> None:
    error = seg.error_of("/v1/track", [{"event": "A"}])
    assert error.item_error and "must be an object" in error.message


def test_accepted_time_forms(seg: SegmentPipeline) -> None:
    [event] = seg.run("/v1/track", {"userId": "u", "event": "e", "timestamp": "2024-05-01T12:00:00.123456+00:00"})
    assert event["originalTimestamp"] == "2024-05-01T12:00:00.123456+00:00"
    assert event["timestamp"] == "2024-05-01T12:00:00.123Z"


@pytest.mark.parametrize(("stamp", "normalised"), [
    ("2024-05-01", "2024-05-01T00:00:00.000Z"), ("2024-05-01T12:00Z", "2024-05-01T12:00:00.000Z"),
    ("2024-05-01 12:00:00", "2024-05-01T12:00:00.000Z"),
    ("2024-05-01T12:00:00.1234567-0530", "2024-05-01T17:30:00.123Z")])
def test_looser_iso_8601_forms_are_kept_as_sent_and_normalised_in_timestamp(
        seg: SegmentPipeline, stamp: str, normalised: str) -> None:
    # originalTimestamp is the client's text, verbatim (the canonical schema asks only for a string
    # there); timestamp is the gateway's, always RFC 3339 UTC. The kit's canonical check passes both.
    [event] = seg.run("/v1/track", {"userId": "u", "event": "e", "timestamp": stamp})
    assert event["originalTimestamp"] == stamp
    assert event["timestamp"] == normalised


def test_an_impossible_date_is_refused_by_the_core_naming_the_field(seg: SegmentPipeline) -> None:
    error = seg.error_of("/v1/track", {"userId": "u", "event": "e", "timestamp": "2024-02-30T00:00:00Z"})
    assert error.item_error and error.field == "timestamp"


def test_source_settings() -> None:
    table = {"name": "backend", "dialect": "segment_style", "write_key": "k"}
    assert check_source(table).settings["write_key"] == "k"
    assert DIALECT.credentials({"write_key": "k"}) == ["k"]
    with pytest.raises(ConfigError, match="write_key is required"):
        check_source({"name": "b", "dialect": "segment_style"})
    with pytest.raises(ConfigError, match="require_identity must be a boolean"):
        check_source({**table, "require_identity": "no"})
    generated = DIALECT.generate_credentials() if DIALECT.generate_credentials else {}
    assert len(generated["write_key"]) >= 32 and ":" not in generated["write_key"]


def test_dialect_declares_core_services_by_name() -> None:
    assert tuple(DIALECT.auth) == ("basic", "body_write_key")
    assert DIALECT.body_key_fields == ("writeKey",)
    assert (DIALECT.max_event_bytes, DIALECT.max_request_bytes) == (32 * 1024, 4 * 1024 * 1024)

