"""The input schema, through the core's validator: what passes, and which field a failure names."""

from __future__ import annotations

from typing import Any

import pytest
from gateway_plugins.usermaven import ITEM_SCHEMA

from gateway.testing import SchemaCheck
from tests.usermaven.support import payload

SCHEMA = SchemaCheck(ITEM_SCHEMA)  # the check the pipeline applies to every item


def _with(base: str, path: str, value: Any) -> dict[str, Any]:
    item: dict[str, Any] = payload(base)
    *parents, last = path.split(".")
    target = item
    for part in parents:
        target = target[part]
    target[last] = value
    return item


def _without(base: str, path: str) -> dict[str, Any]:
    item: dict[str, Any] = payload(base)
    *parents, last = path.split(".")
    target = item
    for part in parents:
        target = target[part]
    del target[last]
    return item


@pytest.mark.parametrize("item", [
    payload("identify"),
    payload("custom_event"),
    *payload("bulk"),
    # The SDK's track(): only the ids, a numeric user id, no page fields.
    {"api_key": "K", "event_type": "signed_up", "event_id": "", "ids": {}, "screen_resolution": "0",
     "src": "usermaven-python", "user": {"anonymous_id": "x1", "id": 42}, "event_attributes": {}},
    # Optional fields sent as null count as absent.
    {"api_key": "K", "event_type": "e", "user": {"id": "u", "email": None}, "company": None,
     "_timestamp": None, "event_attributes": None, "url": None},
    # Unknown keys are kept, not refused.
    {"api_key": "K", "event_type": "e", "user": {"id": "u", "plan": "pro"}, "utc_time": "2022-04-13"},
    {"api_key": "K", "event_type": "e", "user": {"id": "u"}, "company": {}},
    {"api_key": "K", "event_type": "e", "user": {"id": "u"}, "_timestamp": 1632150122000.0},
])
def test_valid_events_pass(item: dict[str, Any]) -> None:
    assert SCHEMA.problem(item) is None


@pytest.mark.parametrize(("item", "field", "words"), [
    (_with("custom_event", "_timestamp", "1632150122000"), "_timestamp", "integer"),
    (_with("custom_event", "_timestamp", 1632150122000.5), "_timestamp", "integer"),
    (_with("custom_event", "_timestamp", -1), "_timestamp", "minimum"),
    (_with("custom_event", "_timestamp", 10**20), "_timestamp", "maximum"),
    (_without("custom_event", "user"), "user", "required"),
    (_without("custom_event", "api_key"), "api_key", "required"),
    (_without("custom_event", "event_type"), "event_type", "required"),
    (_with("custom_event", "event_type", ""), "event_type", "non-empty"),
    (_with("custom_event", "event_type", 5), "event_type", "string"),
    (_with("custom_event", "user", "lzL24K3kYw"), "user", "object"),
    (_with("custom_event", "user.id", True), "user.id", "string or number"),
    (_with("custom_event", "user.id", {"v": 1}), "user.id", "string or number"),
    (_with("custom_event", "user.anonymous_id", 5), "user.anonymous_id", "string"),
    (_with("custom_event", "user.email", ["a@b.c"]), "user.email", "string"),
    (_with("custom_event", "user.custom", ["premium"]), "user.custom", "object"),
    (_without("custom_event", "company.id"), "company.id", "required"),
    (_with("custom_event", "company.id", None), "company.id", "string or number"),
    (_with("custom_event", "company.custom", "premium"), "company.custom", "object"),
    (_with("custom_event", "company", "acme"), "company", "object"),
    (_with("custom_event", "event_attributes", [100, "USD"]), "event_attributes", "object"),
    (_with("custom_event", "ids", []), "ids", "object"),
    (_with("custom_event", "event_id", 17), "event_id", "string"),
    (_with("custom_event", "url", 5), "url", "string"),
    (_with("custom_event", "screen_resolution", 1440), "screen_resolution", "string"),
    ("not an event", "", "object"),
])
def test_invalid_events_name_the_field(item: Any, field: str, words: str) -> None:
    error = SCHEMA.problem(item)
    assert error is not None
    assert error.field == field
    assert words in error.message

