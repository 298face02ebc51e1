"""The mapping alone: the seed's examples to canonical events, and the rules the README promises."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from gateway_plugins.usermaven.mapping import id_string, iso_millis, map_event

from gateway import Forbidden, InvalidEvent
from gateway.testing import assert_golden
from tests.usermaven.support import GOLDEN, context, payload


@pytest.mark.parametrize("name", ["identify", "custom_event"])
def test_seed_example_maps_to_golden(name: str) -> None:
    assert_golden(GOLDEN / f"{name}.mapped.json", map_event(payload(name), context()))


def test_seed_bulk_example_maps_to_golden() -> None:
    items = payload("bulk")
    mapped = [map_event(item, context(i)) for i, item in enumerate(items)]
    assert_golden(GOLDEN / "bulk.mapped.json", mapped)


def test_identify_with_company_yields_identify_then_group() -> None:
    identify, group = map_event(payload("identify"), context())
    assert identify["type"] == "identify"
    assert identify["userId"] == "lzL24K3kYw"
    assert identify["anonymousId"] == "random_id"
    assert identify["traits"] == {"email": "user@domain.com", "createdAt": "2021-01-20T09:55:35",
                                  "firstName": "John", "lastName": "Smith", "plan_name": "premium"}
    assert identify["context"]["groupId"] == "65f02acc-e104-45d9-8199-1491332d8454"
    assert group["type"] == "group"
    assert group["groupId"] == "65f02acc-e104-45d9-8199-1491332d8454"
    assert group["userId"] == "lzL24K3kYw"
    assert group["traits"] == {"name": "azhar", "createdAt": "2022-02-15T17:25:08", "plan": "premium"}
    # Each event owns its context: the core stamps context.ip into each one.
    assert identify["context"] is not group["context"]


def test_custom_event_is_a_track_with_user_and_company_in_context() -> None:
    (track,) = map_event(payload("custom_event"), context())
    assert track["type"] == "track"
    assert track["event"] == "plan_upgraded"
    assert track["properties"] == {"amount": 100, "currency": "USD"}
    assert track["context"]["traits"]["email"] == "user@domain.com"
    assert track["context"]["groupId"] == "65f02acc-e104-45d9-8199-1491332d8454"
    assert track["context"]["usermaven"]["company"]["name"] == "azhar"


def test_page_fields_go_to_context() -> None:
    item = payload("custom_event") | {
        "referer": "https://search.example/?q=x", "screen_resolution": "1440x900", "vp_size": "1440x570",
    }
    (track,) = map_event(item, context())
    ctx = track["context"]
    assert ctx["page"] == {"url": "http://localhost:3000/example", "title": "Your Page Title",
                           "path": "/example", "search": "", "referrer": "https://search.example/?q=x"}
    assert ctx["userAgent"].startswith("Mozilla/5.0")
    assert ctx["locale"] == "en-US"
    assert ctx["screen"] == {"width": 1440, "height": 900}
    assert ctx["library"] == {"name": "http"}
    assert ctx["usermaven"]["vp_size"] == "1440x570"
    assert ctx["usermaven"]["doc_host"] == "localhost"
    assert ctx["usermaven"]["doc_encoding"] == "UTF-8"
    # Parsed into context.screen, so not kept twice.
    assert "screen_resolution" not in ctx["usermaven"]


@pytest.mark.parametrize("value", ["0", "1440X900", "1440x", " 1440x900", "0x0"])
def test_unparsable_screen_resolution_is_kept_as_sent(value: str) -> None:
    (track,) = map_event(payload("custom_event") | {"screen_resolution": value}, context())
    assert "screen" not in track["context"]
    assert track["context"]["usermaven"]["screen_resolution"] == value


def test_timestamp_milliseconds_become_iso_utc() -> None:
    assert iso_millis(1632150122000) == "2021-09-20T15:02:02.000Z"
    assert iso_millis(1632150123045) == "2021-09-20T15:02:03.045Z"
    assert iso_millis(0) == "1970-01-01T00:00:00.000Z"
    (track,) = map_event(payload("custom_event") | {"_timestamp": 1632150122007.0}, context())
    assert track["timestamp"] == "2021-09-20T15:02:02.007Z"


def test_sdk_shape_without_timestamp_or_event_id_leaves_both_to_the_core() -> None:
    # What the usermaven Python SDK's identify() posts.
    item = {"api_key": "API_KEY", "event_id": "", "event_type": "user_identify", "ids": {},
            "user": {"anonymous_id": "k3j5h6g7f8", "id": 42, "email": "a@b.c", "created_at": "2022"},
            "company": {"id": 7, "name": "Acme", "created_at": "2021"},
            "screen_resolution": "0", "src": "usermaven-python"}
    identify, group = map_event(item, context())
    for event in (identify, group):
        assert "messageId" not in event
        assert "timestamp" not in event
        assert event["userId"] == "42"
    assert group["groupId"] == "7"
    assert identify["context"]["library"] == {"name": "usermaven-python"}


def test_event_id_becomes_message_id_and_the_group_gets_a_derived_one() -> None:
    item = payload("identify") | {"event_id": "evt-1"}
    identify, group = map_event(item, context())
    assert identify["messageId"] == "evt-1"
    assert group["messageId"] == "evt-1:group"
    # Deterministic: a redelivered request gets the same ids.
    assert [e["messageId"] for e in map_event(item, context())] == ["evt-1", "evt-1:group"]


@pytest.mark.parametrize(("value", "expected"), [(42, "42"), (42.0, "42"), (4.5, "4.5"), ("abc", "abc")])
def test_ids_become_strings(value: Any, expected: str) -> None:
    assert id_string(value) == expected


def test_anonymous_only_user_is_fine_and_empty_id_is_absent() -> None:
    item = payload("custom_event")
    item["user"] = {"anonymous_id": "anon-1", "id": ""}
    (track,) = map_event(item, context())
    assert track["anonymousId"] == "anon-1"
    assert "userId" not in track


@pytest.mark.parametrize("user", [{}, {"email": "a@b.c"}, {"id": "", "anonymous_id": ""},
                                  {"id": None, "anonymous_id": None}])
def test_user_without_id_or_anonymous_id_is_invalid(user: dict[str, Any]) -> None:
    item = payload("custom_event") | {"user": user}
    with pytest.raises(InvalidEvent) as caught:
        map_event(item, context())
    assert caught.value.field == "user"
    assert "id" in caught.value.message and "anonymous_id" in caught.value.message


def test_empty_company_id_is_invalid() -> None:
    item = payload("custom_event")
    item["company"]["id"] = ""
    with pytest.raises(InvalidEvent) as caught:
        map_event(item, context())
    assert caught.value.field == "company.id"


def test_empty_or_null_company_counts_as_absent() -> None:
    company: dict[str, Any] | None
    for company in ({}, None):
        (track,) = map_event(payload("custom_event") | {"company": company}, context())
        assert "groupId" not in track["context"]
        assert "company" not in track["context"]["usermaven"]
    assert len(map_event(payload("identify") | {"company": {}}, context())) == 1


def test_body_api_key_of_another_workspace_refuses_the_request() -> None:
    with pytest.raises(Forbidden) as caught:
        map_event(payload("custom_event") | {"api_key": "OTHER"}, context(3))
    assert caught.value.status == 403
    assert caught.value.code == "api_key_mismatch"
    assert "index 3" in caught.value.message


def test_custom_traits_that_clash_with_named_fields_are_kept_as_sent() -> None:
    item = payload("identify")
    item["user"]["custom"] = {"email": "other@domain.com", "firstName": "Johnny", "tier": 2}
    item["company"]["custom"] = {"name": "Other Inc"}
    identify, group = map_event(item, context())
    assert identify["traits"]["email"] == "user@domain.com"
    assert identify["traits"]["firstName"] == "John"
    assert identify["traits"]["tier"] == 2
    assert identify["context"]["usermaven"]["user"] == {"custom": item["user"]["custom"]}
    assert group["traits"]["name"] == "azhar"
    assert group["context"]["usermaven"]["company"] == {"custom": {"name": "Other Inc"}}


def test_custom_traits_equal_to_named_fields_are_no_clash() -> None:
    item = payload("identify")
    item["user"]["custom"] = {"email": "user@domain.com"}
    identify, _ = map_event(item, context())
    assert "user" not in identify["context"]["usermaven"]


def test_identify_keeps_event_attributes_it_has_no_place_for() -> None:
    item = payload("identify") | {"event_attributes": {"via": "sso"}}
    identify, _ = map_event(item, context())
    assert "properties" not in identify
    assert identify["context"]["usermaven"]["event_attributes"] == {"via": "sso"}


def test_mapping_does_not_change_its_input() -> None:
    item = payload("identify") | {"event_id": "e1", "extra": {"a": [1, 2]}}
    before = copy.deepcopy(item)
    map_event(item, context())
    assert item == before


def test_a_field_sent_under_both_spellings_keeps_both() -> None:
    item = payload("identify")
    item["user"]["createdAt"] = "2020-05-05"
    identify, _ = map_event(item, context())
    assert identify["traits"]["created_at"] == "2021-01-20T09:55:35"
    assert identify["traits"]["createdAt"] == "2020-05-05"
