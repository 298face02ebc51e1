"""The input schema: what the core validates with, and the full contract kept honest by the mapping."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import jsonschema
import pytest
from gateway_plugins.filum.params import VALUE_TYPES, decode_params
from gateway_plugins.filum.schema import EVENT_SCHEMA, item_schema
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gateway import InvalidEvent
from gateway.testing import SchemaCheck

CHECK = SchemaCheck(item_schema())
DEFINITIONS = EVENT_SCHEMA["definitions"]
PARAM = jsonschema.Draft7Validator({"$ref": "#/definitions/param", "definitions": DEFINITIONS})
PATTERN = EVENT_SCHEMA["definitions"]["datetime"]["pattern"]


def test_full_schema_is_valid_draft_07() -> None:
    jsonschema.Draft7Validator.check_schema(EVENT_SCHEMA)


def test_seed_payloads_are_valid_under_the_full_schema() -> None:
    from .support import payload

    for name in ("seed_identify", "seed_track"):
        assert list(jsonschema.Draft7Validator(EVENT_SCHEMA).iter_errors(payload(name))) == []


def test_runtime_schema_leaves_only_params_and_times_to_the_mapping() -> None:
    runtime = item_schema()
    assert runtime["properties"] == EVENT_SCHEMA["properties"]
    changed = {k for k, v in runtime["definitions"].items() if v != EVENT_SCHEMA["definitions"][k]}
    assert changed == {"param", "datetime"}


@pytest.mark.parametrize(("item", "field", "words"), [
    ({"event_type": "page", "event_name": "x", "user_id": "u"}, "event_type",
     ["'identify', 'track'", "'page'"]),
    ({"event_type": "track", "user_id": "u"}, "event_name", ["event_name is required"]),
    ({"event_name": "x", "user_id": "u"}, "event_type", ["event_type is required"]),
    ({"event_type": "track", "event_name": "", "user_id": "u"}, "event_name", ["event_name"]),
    ({"event_type": "track", "event_name": "x", "user_id": 12}, "user_id", ["a string or null, not integer"]),
    ({"event_type": "track", "event_name": "x", "user_id": "u", "context": "web"}, "context", ["object"]),
    ({"event_type": "track", "event_name": "x", "user_id": "u", "event_params": {"a": 1}}, "event_params",
     ["array"]),
    ({"event_type": "track", "event_name": "x", "user_id": "u", "timestamp": 1721030293}, "timestamp",
     ["string"]),
    ("track", "", ["object"]),
])
def test_envelope_errors_name_the_field(item: Any, field: str, words: list[str]) -> None:
    error = CHECK.problem(item)
    assert error is not None and error.field == field
    for word in words:
        assert word in error.message, (word, error.message)


def test_sdk_nulls_pass_the_runtime_schema() -> None:
    item = {"event_type": "track", "event_name": "x", "user_id": "u", "anonymous_id": None, "origin": None,
            "event_params": [{"key": "k", "value": {"string_value": None}}]}
    assert CHECK.problem(item) is None


def _accepted_by_mapping(param: Any) -> bool:
    try:
        decode_params([param])
    except InvalidEvent:
        return False
    return True


_SCALARS = (st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
            | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12)
            | st.datetimes().map(datetime.isoformat)
            | st.sampled_from(["2024-07-15T07:58:13Z", "2024-13-01"]))
_ONE_TYPED = st.builds(lambda k, v: {k: v}, st.sampled_from(VALUE_TYPES), _SCALARS)
_ANY_VALUE = (st.dictionaries(st.sampled_from([*VALUE_TYPES, "bool_value"]),
                              _SCALARS | st.lists(_SCALARS, max_size=2), max_size=3) | _SCALARS)
# Mostly well-formed params, so that each value type meets each kind of value often.
_PARAMS = (st.builds(lambda v: {"key": "Total", "value": v}, _ONE_TYPED)
           | st.fixed_dictionaries({"key": st.sampled_from(["Total", "", 5])}, optional={"value": _ANY_VALUE})
           | _SCALARS)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_PARAMS)
def test_mapping_accepts_exactly_the_params_the_full_schema_accepts(param: Any) -> None:
    value = param.get("value") if isinstance(param, dict) else None
    datetime_text = value.get("datetime_value") if isinstance(value, dict) else None
    if isinstance(datetime_text, str) and re.search(PATTERN, datetime_text):
        # A pattern cannot know calendars (month 13) nor Python's "$" before a final newline.
        assume(re.fullmatch(PATTERN, datetime_text) and _parses(datetime_text))
    assert _accepted_by_mapping(param) == PARAM.is_valid(param), param


def _parses(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True
