"""The Filum mapping on its own: seed payloads and typed params to canonical events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from gateway_plugins.filum.dialect import FILUM
from gateway_plugins.filum.mapping import map_event

from gateway import DialectRoute, InvalidEvent, ItemContext, Source
from gateway.testing import Pipeline, assert_golden_events

from .support import GOLDEN, WRITE_KEY, bearer, payload

SOURCE = Source(name="crm", dialect="filum", settings={"write_key": WRITE_KEY})
CTX = ItemContext(source=SOURCE, route=DialectRoute("/events"), index=0)


def mapped(item: dict[str, Any]) -> dict[str, Any]:
    [event] = FILUM.map(item, CTX)
    return dict(event)


def param(key: str, **value: Any) -> dict[str, Any]:
    return {"key": key, "value": value}


def track(*params: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"event_type": "track", "event_name": "Tested", "user_id": "u1",
            "event_params": list(params), **extra}


@pytest.fixture(scope="module")
def gw() -> Iterator[Pipeline]:
    with Pipeline(sources=[{"name": "crm", "dialect": "filum", "write_key": WRITE_KEY}]) as pipeline:
        yield pipeline


@pytest.mark.parametrize("name", ["seed_identify", "seed_track"])
def test_seed_examples_map_to_golden_events(gw: Pipeline, name: str) -> None:
    # In-process, through the kit's pipeline (the code the server runs); tests/filum/test_http.py
    # checks the same golden files against what a real server's stdout sink prints.
    outcome = gw.post("/events", json=payload(name), headers=bearer())
    assert outcome.status == 200, outcome.answer
    assert_golden_events(GOLDEN / f"{name}.json", outcome.events)


def test_track_keeps_keys_and_unicode_values_as_sent() -> None:
    event = mapped(payload("seed_track"))
    assert event["event"] == "Transaction Completed"
    assert event["properties"]["Location Name"] == "Hà Nội"
    assert event["properties"]["Total Value"] == 1451000.0
    assert isinstance(event["properties"]["Total Value"], float)
    assert event["timestamp"] == "2024-07-15T07:58:13Z"


def test_identify_params_become_traits() -> None:
    event = mapped(payload("seed_identify"))
    assert event["type"] == "identify"
    assert event["traits"] == {"Name": "Harry Potter", "Email": "harry@filum.ai", "Phone": "0123456789"}
    assert "event" not in event and "properties" not in event
    assert "context" not in event  # "Identify" is the name every identify carries: nothing to keep


def test_identify_with_another_name_keeps_it_under_context() -> None:
    event = mapped({"event_type": "identify", "event_name": "Signed Up", "anonymous_id": "a1"})
    assert event["context"] == {"filum": {"event_name": "Signed Up"}}
    assert event["anonymousId"] == "a1" and "userId" not in event


def test_each_value_type_decodes_to_its_type() -> None:
    event = mapped(track(
        param("s", string_value="text"),
        param("i", int_value=7),
        param("i_float", int_value=3.0),
        param("d", double_value=2),
        param("when", datetime_value="2024-07-15T14:58:13.5+07:00"),
        param("naive", datetime_value="2024-07-15 07:58:13"),
        param("gone", string_value=None),
    ))
    props = event["properties"]
    assert props == {"s": "text", "i": 7, "i_float": 3, "d": 2.0,
                     "when": "2024-07-15T07:58:13.500Z", "naive": "2024-07-15T07:58:13.000Z",
                     "gone": None}
    assert type(props["i_float"]) is int and type(props["d"]) is float


def test_null_string_value_disappears_once_the_core_drops_nulls(gw: Pipeline) -> None:
    outcome = gw.post("/events", json=track(param("gone", string_value=None), param("kept", int_value=1)),
                      headers=bearer())
    [event] = outcome.events
    assert event["properties"] == {"kept": 1}
    assert mapped(track(param("gone", string_value=None)))["properties"] == {"gone": None}  # the core's doing


def test_sdk_fields_feed_the_canonical_ones() -> None:
    event = mapped(track(
        event_id="6f0c7c1e-2b53-4c5b-9d0e-1f2a3b4c5d6e",
        original_timestamp="2024-07-15T07:58:13.100000+00:00",
        sent_at="2024-07-15T07:58:14.000000+00:00",
        received_at="2024-07-15T07:58:14.000000+00:00",
        origin="backend",
        anonymous_id=None,
        context={"ip": "", "library": {"name": "filum-python-sdk", "version": "1.1.2"}, "locale": "vi-VN"},
    ))
    assert event["messageId"] == "6f0c7c1e-2b53-4c5b-9d0e-1f2a3b4c5d6e"
    assert event["timestamp"] == "2024-07-15T07:58:13.100000+00:00"  # no timestamp: original_timestamp
    assert event["sentAt"] == "2024-07-15T07:58:14.000000+00:00"
    assert event["context"] == {"library": {"name": "filum-python-sdk", "version": "1.1.2"},
                                "locale": "vi-VN", "filum": {"origin": "backend"}}
    assert "anonymousId" not in event


def test_timestamp_wins_over_original_timestamp() -> None:
    event = mapped(track(timestamp="2020-01-01T00:00:00Z", original_timestamp="2024-07-15T07:58:13Z"))
    assert event["timestamp"] == "2020-01-01T00:00:00Z"


def test_unknown_top_level_keys_are_kept_under_context_filum() -> None:
    event = mapped(track(origin={"app": "pos"}, channel="kiosk", context={"filum": {"x": 1}}))
    assert event["context"]["filum"] == {"x": 1, "origin": {"app": "pos"}, "channel": "kiosk"}


def invalid(item: dict[str, Any]) -> InvalidEvent:
    with pytest.raises(InvalidEvent) as caught:
        map_event(item, CTX)
    return caught.value


@pytest.mark.parametrize(("params", "field", "words"), [
    ([param("Total", **{})], "event_params[0].value", ["event_params[0]", "'Total'", "no value type"]),
    ([param("a", string_value="x"), {"key": "Total"}], "event_params[1].value",
     ["event_params[1]", "'Total'", "value is required"]),
    ([param("Total", string_value="1", int_value=1)], "event_params[0].value",
     ["event_params[0]", "'Total'", "2 value types", "string_value, int_value"]),
    ([param("Total", int_value="12")], "event_params[0].value.int_value",
     ["event_params[0]", "'Total'", "int_value must be an integer, not string"]),
    ([param("Total", int_value=1.5)], "event_params[0].value.int_value", ["'Total'", "integer, not number"]),
    ([param("Paid", int_value=True)], "event_params[0].value.int_value", ["'Paid'", "integer, not boolean"]),
    ([param("Total", double_value="1.5")], "event_params[0].value.double_value", ["a number, not string"]),
    ([param("Total", double_value=True)], "event_params[0].value.double_value", ["a number, not boolean"]),
    ([param("Total", string_value=5)], "event_params[0].value.string_value", ["a string, not integer"]),
    ([param("When", datetime_value="tomorrow")], "event_params[0].value.datetime_value",
     ["'When'", "ISO-8601", "'tomorrow'"]),
    ([param("When", datetime_value="2024-13-01T00:00:00Z")], "event_params[0].value.datetime_value",
     ["'When'", "ISO-8601"]),
    ([param("When", datetime_value=1721030293)], "event_params[0].value.datetime_value",
     ["'When'", "not integer"]),
    ([param("Total", bool_value=True)], "event_params[0].value.bool_value",
     ["'Total'", "unknown value type 'bool_value'"]),
    ([param("Total", int_value=1), param("x", string_value="y"), param("Total", int_value=2)],
     "event_params[2].key", ["event_params[2]", "'Total'", "duplicate key"]),
    ([{"key": "", "value": {"string_value": "x"}}], "event_params[0].key", ["event_params[0]", "non-empty"]),
    ([{"value": {"string_value": "x"}}], "event_params[0].key", ["event_params[0]", "key"]),
    (["Total"], "event_params[0]", ["event_params[0]", "must be an object, not string"]),
    ([{"key": "Total", "value": "12"}], "event_params[0].value",
     ["'Total'", "must be an object, not string"]),
])
def test_bad_params_name_index_and_key(params: list[Any], field: str, words: list[str]) -> None:
    error = invalid(track(*params))
    assert error.field == field
    assert error.status == 400 and error.code == "invalid_event"
    for word in words:
        assert word in error.message, (word, error.message)


def test_an_id_is_required() -> None:
    error = invalid({"event_type": "track", "event_name": "x", "user_id": "", "anonymous_id": None})
    assert error.field == "user_id" and "anonymous_id" in error.message


@pytest.mark.parametrize("key", ["timestamp", "original_timestamp", "sent_at", "received_at"])
def test_bad_times_are_named(key: str) -> None:
    error = invalid(track(**{key: "15/07/2024"}))
    assert error.field == key and "'15/07/2024'" in error.message
