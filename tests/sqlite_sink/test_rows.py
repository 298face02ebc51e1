"""Canonical event <-> row, without a database: every value lands in its column or in ``extra``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from gateway_plugins.sqlite_sink.rows import (
    fallback_message_id,
    format_time,
    parse_time,
    replace_nul,
    to_event,
    to_row,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from .support import EVENTS, SOURCE


def round_trip(event: dict[str, Any]) -> dict[str, Any]:
    return to_event(to_row(event, orjson.dumps(event)))


@pytest.mark.parametrize("kind", sorted(EVENTS))
def test_every_canonical_type_fits_the_columns_exactly(kind: str) -> None:
    event = EVENTS[kind]
    row = to_row(event, orjson.dumps(event))
    assert row["extra"] is None
    assert row["type"] == kind
    assert row["message_id"] == event["messageId"]
    assert row["source_name"] == "backend" and row["dialect"] == "segment_style"
    assert row["timestamp"] == datetime(2024, 5, 1, 9, 59, 58, 500000, tzinfo=UTC)
    assert row["received_at"] == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    # the client's own spellings, offsets included
    assert row["original_timestamp"] == "2024-05-01T11:59:59.000+02:00"
    assert row["sent_at"] == "2024-05-01T12:00:00.500+02:00"
    assert round_trip(event) == event


def test_a_time_spelt_otherwise_is_kept_as_written_and_stored_as_utc() -> None:
    times = {"timestamp": "2024-05-01T11:59:58.5+02:00", "receivedAt": "2024-05-01T10:00:00Z"}
    event = {**EVENTS["track"], **times}
    row = to_row(event, b"{}")
    assert row["timestamp"] == datetime(2024, 5, 1, 9, 59, 58, 500000, tzinfo=UTC)
    assert row["received_at"] == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert row["extra"] == times
    assert round_trip(event) == event


def test_what_has_no_column_goes_to_extra() -> None:
    event = {
        **EVENTS["identify"],
        "userId": 42,  # not a string: the text column stays empty
        "traits": ["not", "an", "object"],
        "timestamp": "yesterday",
        "experiment": {"arm": "B"},  # added by a transform_event hook
        "source": {**SOURCE, "region": "eu"},
    }
    row = to_row(event, orjson.dumps(event))
    assert row["user_id"] is None and row["traits"] is None and row["timestamp"] is None
    assert row["source_name"] == "backend"
    assert row["extra"] == {
        "userId": 42, "traits": ["not", "an", "object"], "timestamp": "yesterday",
        "experiment": {"arm": "B"}, "source": {**SOURCE, "region": "eu"},
    }
    assert round_trip(event) == event


def test_long_indexed_values_are_cut_in_their_column_and_kept_whole_in_extra() -> None:
    long_id, long_name, long_user = "m" * 600, "é" * 2000, "u" * 513
    event = {**EVENTS["track"], "messageId": long_id, "event": long_name, "userId": long_user,
             "properties": {"text": "x" * 5000}}
    row = to_row(event, orjson.dumps(event))
    assert row["message_id"].startswith("sha256:") and len(row["message_id"]) == 71
    assert row["message_id"] == to_row(event, b"other bytes")["message_id"]  # the id decides, not the bytes
    assert (row["event"], row["user_id"]) == ("é" * 512, "u" * 512)
    assert row["extra"] == {"messageId": long_id, "event": long_name, "userId": long_user}
    assert row["properties"] == {"text": "x" * 5000}  # not indexed: whole
    assert round_trip(event) == event
    exactly = {**EVENTS["track"], "event": "e" * 512}
    assert to_row(exactly, b"")["extra"] is None


def test_an_event_without_message_id_gets_one_from_its_bytes() -> None:
    event = {k: v for k, v in EVENTS["track"].items() if k != "messageId"}
    raw = orjson.dumps(event)
    row = to_row(event, raw)
    assert row["message_id"] == fallback_message_id(raw) == to_row(event, raw)["message_id"]
    assert row["message_id"].startswith("sha256:")
    other = {**event, "event": "Other"}
    assert row["message_id"] != to_row(other, orjson.dumps(other))["message_id"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T10:00:00.123Z", "2024-05-01T10:00:00.123Z"),
        ("2024-05-01T10:00:00.123456Z", "2024-05-01T10:00:00.123456Z"),
        ("2024-05-01T12:00:00+02:00", "2024-05-01T10:00:00.000Z"),
        ("2024-05-01T10:00:00", "2024-05-01T10:00:00.000Z"),  # no offset: UTC, as the core reads it
    ],
)
def test_times_are_read_as_utc(text: str, expected: str) -> None:
    moment = parse_time(text)
    assert moment is not None and moment.tzinfo is not None
    assert format_time(moment) == expected


@pytest.mark.parametrize("text", ["", "soon", "2024-13-01T00:00:00Z", 1714557600])
def test_what_is_not_an_iso_time_is_not_a_time(text: Any) -> None:
    assert parse_time(text) is None


def test_nul_characters_become_replacement_characters_at_any_depth() -> None:
    deep: dict[str, Any] = {"leaf": "a\x00b"}
    for _ in range(2000):  # deeper than Python's recursion limit
        deep = {"k": [deep]}
    properties = {"k\x00ey": ["\x00", 1, None, {"v": "\x00\x00"}]}
    event: dict[str, Any] = {"event": "x\x00", "properties": properties, "deep": deep}
    assert replace_nul(event) is event
    assert event["event"] == "x\ufffd"
    assert event["properties"] == {"k\ufffdey": ["\ufffd", 1, None, {"v": "\ufffd\ufffd"}]}
    node = event["deep"]
    while "k" in node:
        node = node["k"][0]
    assert node == {"leaf": "a\ufffdb"}


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
TIMES = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]),
).map(lambda d: d.isoformat())
KEYS = st.sampled_from(
    ["messageId", "type", "event", "name", "userId", "anonymousId", "previousId", "groupId", "properties",
     "traits", "context", "integrations", "timestamp", "originalTimestamp", "sentAt", "receivedAt", "source"]
) | st.text(max_size=8)
VALUES = JSON | TIMES | st.dictionaries(st.sampled_from(["id", "name", "dialect", "x"]), JSON | st.text())


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(KEYS, VALUES, max_size=10))
def test_any_event_comes_back_as_it_went_in(event: dict[str, Any]) -> None:
    # JSON first, as the sink only ever sees events that came out of the durable log
    event = orjson.loads(orjson.dumps(event))
    got = round_trip(event)
    if "messageId" not in event:
        assert got.pop("messageId").startswith("sha256:")
    assert got == event
