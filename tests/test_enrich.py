"""Enrichment's per-request work: message ids, the skew of a shared sentAt, times, nulls."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.enrich import Stamp, enrich, iso
from gateway.errors import InvalidEvent
from gateway.sources import Source

SOURCE = Source(name="backend", dialect="segment_style", settings={})
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def stamp() -> Stamp:
    return Stamp(datetime(2024, 5, 1, 12, 0, tzinfo=UTC), "203.0.113.9")


def test_message_ids_are_version_4_uuids_unique_within_and_across_requests() -> None:
    ids = [s.message_id() for s in (stamp() for _ in range(200)) for _ in range(50)]
    assert len(set(ids)) == len(ids) == 10_000
    assert all(UUID4.match(i) and uuid.UUID(i).version == 4 for i in ids)
    prefixes = {i[:24] for i in ids}
    assert len(prefixes) == 200  # the random part is drawn once per request


def test_the_counter_wraps_within_its_48_bits() -> None:
    s = stamp()
    s.message_id()
    s._id_tail = (1 << 48) - 1
    assert s.message_id().endswith("000000000000")


def test_a_shared_sent_at_is_parsed_once_and_corrects_each_timestamp() -> None:
    s = stamp()
    sent = "2024-05-01T12:00:10.000Z"  # the client's clock is 10 s ahead
    events: list[Any] = [{"type": "track", "timestamp": f"2024-05-01T12:00:0{i}.000Z", "sentAt": sent}
                         for i in range(3)]
    for e in events:
        enrich(e, s, SOURCE)
    assert [e["timestamp"] for e in events] == ["2024-05-01T11:59:50.000Z", "2024-05-01T11:59:51.000Z",
                                                "2024-05-01T11:59:52.000Z"]
    assert list(s._skews) == [sent]


def test_distinct_sent_at_values_do_not_grow_the_cache_without_bound() -> None:
    s = stamp()
    for i in range(500):
        s.skew(f"2024-05-01T12:00:00.{i:03d}Z")
    assert len(s._skews) == 64


@pytest.mark.parametrize("bad", ["soon", 17])
def test_a_bad_sent_at_names_the_field(bad: Any) -> None:
    with pytest.raises(InvalidEvent) as caught:
        enrich({"type": "track", "sentAt": bad}, stamp(), SOURCE)  # type: ignore[typeddict-item]
    assert caught.value.field == "sentAt"


def test_iso_is_utc_milliseconds_with_z() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert iso(datetime(2024, 5, 1, 14, 0, 0, 123456, tzinfo=plus_two)) == "2024-05-01T12:00:00.123Z"
    assert iso(datetime(2024, 5, 1, 12, 0, tzinfo=UTC)) == "2024-05-01T12:00:00.000Z"


@given(st.datetimes(timezones=st.just(UTC)) | st.datetimes(
    min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=st.timezones()))
def test_iso_spells_every_time_as_the_standard_library_does(moment: datetime) -> None:
    expected = moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
    assert iso(moment) == expected


def test_nulls_are_dropped_unless_the_caller_knows_there_are_none() -> None:
    event: Any = {"type": "track", "userId": None, "context": {"page": None, "ip": None}}
    enrich(event, stamp(), SOURCE)
    assert "userId" not in event and event["context"] == {"ip": "203.0.113.9"}
