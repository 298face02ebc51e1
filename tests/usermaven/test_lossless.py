"""The README's promise that the mapping loses nothing, checked on generated events.

Every value sent is made unique, so finding it in the canonical events proves that this very field
was carried (under a new name or in ``context.usermaven``), not some other field with an equal value.
"""

from __future__ import annotations

import itertools
from typing import Any

from gateway_plugins.usermaven.mapping import map_event
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.usermaven.support import API_KEY, context

# Names that collide with the mapping's own: renamed fields, context keys, trait names.
TRICKY = ["createdAt", "created_at", "firstName", "email", "name", "id", "custom", "usermaven", "user",
          "company", "groupId", "traits", "page", "screen", "plan"]
KEYS = st.sampled_from([*TRICKY, "a", "b", "utc_time", "local_tz_offset", "source_ip"])
LEAF = st.sampled_from(["s", 1, 2.5, True, None])
VALUE = st.recursive(
    LEAF, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3), max_leaves=6
)
EXTRAS = st.dictionaries(KEYS, VALUE, max_size=4)
PAGE = ["url", "page_title", "doc_path", "doc_host", "doc_search", "referer", "user_agent", "user_language",
        "doc_encoding", "vp_size", "src"]


def _uniquify(value: Any, counter: itertools.count[int]) -> Any:
    """Replace each leaf with a value no other leaf has, keeping its JSON type."""
    if isinstance(value, dict):
        return {k: _uniquify(v, counter) for k, v in value.items()}
    if isinstance(value, list):
        return [_uniquify(v, counter) for v in value]
    n = next(counter)
    if isinstance(value, bool) or value is None:
        return value  # too few of them to tell apart: checked by structure elsewhere
    if isinstance(value, int):
        return 1000 + n
    if isinstance(value, float):
        return 1000.5 + n
    return f"v{n}"


@st.composite
def usermaven_events(draw: st.DrawFn) -> dict[str, Any]:
    user = {k: v for k, v in draw(EXTRAS).items() if k not in ("id", "anonymous_id", "custom")}
    user |= {"id": "s", "anonymous_id": "s", "custom": draw(EXTRAS)}
    item: dict[str, Any] = {k: v for k, v in draw(EXTRAS).items() if k not in ("user", "company", "custom")}
    item |= {
        "event_type": draw(st.sampled_from(["user_identify", "s"])),
        "user": user,
        "event_attributes": draw(EXTRAS),
    }
    for field in draw(st.lists(st.sampled_from(PAGE), unique=True)):
        item[field] = "s"
    if draw(st.booleans()):
        company = {k: v for k, v in draw(EXTRAS).items() if k not in ("id", "custom")}
        item["company"] = company | {"id": "s", "custom": draw(EXTRAS)}
    item = _uniquify(item, itertools.count())
    # Fields whose conversion the README documents get known values after the uniquifying.
    item["api_key"] = API_KEY
    item["event_id"] = draw(st.sampled_from(["", "evt-1"]))
    item["screen_resolution"] = draw(st.sampled_from(["0", "800x600", "s"]))
    if draw(st.booleans()):
        item["user"]["id"] = 7  # the SDK sends numeric ids as they are
    if draw(st.booleans()):
        item["_timestamp"] = 1632150122000
    return item


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def _expected_leaves(item: dict[str, Any]) -> list[Any]:
    """The leaves the canonical events must show, after the README's documented conversions."""
    expected = []
    for key, value in item.items():
        if key in ("api_key", "_timestamp", "screen_resolution", "user"):
            continue
        if key == "event_id" and value == "":
            continue
        expected += _leaves(value)
    user = dict(item["user"])
    if user["id"] == 7:
        expected.append(str(user.pop("id")))
    expected += _leaves(user)
    return [v for v in expected if v is not None and not isinstance(v, bool)]


@settings(max_examples=300, deadline=None)
@given(usermaven_events())
def test_every_value_sent_reaches_a_canonical_event(item: dict[str, Any]) -> None:
    events = map_event(item, context())
    found = {repr(leaf) for event in events for leaf in _leaves(event)}
    missing = [v for v in _expected_leaves(item) if repr(v) not in found]
    assert not missing, f"lost {missing} of {item}\n-> {events}"
    if "_timestamp" in item:
        assert all(e["timestamp"] == "2021-09-20T15:02:02.000Z" for e in events)
    if item["screen_resolution"] == "800x600":
        assert all(e["context"]["screen"] == {"width": 800, "height": 600} for e in events)
    else:
        kept = [e["context"]["usermaven"]["screen_resolution"] for e in events]
        assert kept == [item["screen_resolution"]] * len(events)
