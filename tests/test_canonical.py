"""The canonical event schema, and that the core's output conforms to it."""

from __future__ import annotations

import uuid

import gateway_schemas as schemas
import jsonschema
import pytest

from gateway.canonical import EVENT_TYPES, CanonicalEvent
from gateway.testing import assert_canonical
from tests.support.server import RunningGateway


def test_schema_is_valid_and_matches_the_typed_dict() -> None:
    schema = schemas.load("canonical_event")
    jsonschema.Draft7Validator.check_schema(schema)
    assert set(schema["properties"]) == set(CanonicalEvent.__annotations__)
    assert schema["properties"]["type"]["enum"] == list(EVENT_TYPES)


@pytest.mark.parametrize("event", [
    {"type": "track"},
    {"type": "group", "groupId": 1},
    {"type": "alias", "userId": "u"},
    {"type": "track", "event": "x", "timestamp": "yesterday"},
])
def test_schema_refuses_broken_events(event: dict[str, object]) -> None:
    base = {"messageId": "m", "timestamp": "2024-01-01T00:00:00.000Z", "receivedAt": "2024-01-01T00:00:00.000Z",
            "source": {"id": "i", "name": "n", "dialect": "d"}}
    with pytest.raises(AssertionError):
        assert_canonical({**base, **event})


def test_what_the_core_emits_is_canonical(probe_gateway: RunningGateway) -> None:
    marker = str(uuid.uuid4())
    r = probe_gateway.post("/probe/batch", auth=("probe-write-key", ""), json={"batch": [
        {"event": marker}, {"event": marker, "timestamp": "2024-07-15T07:58:13Z", "sentAt": "2024-07-15T07:58:14Z"},
        {"event": marker, "timestamp": "2024-07-15T07:58:13.123+02:00", "properties": {"n": None}}]})
    assert r.status_code == 200, r.text
    for event in probe_gateway.wait_for_stdout_events(3, where=lambda e: e["event"] == marker):
        assert_canonical(event)
