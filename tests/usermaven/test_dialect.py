"""The dialect's declarations: routes, auth, envelope, source settings and answer shapes."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from gateway_plugins.usermaven import DIALECT, SOURCE_SCHEMA, generate_credentials

from gateway import GatewayError, IngestResult, InvalidEvent, Unauthorized
from tests.usermaven.support import payload

ROUTE = DIALECT.routes[0]


def test_routes_include_the_sdk_trailing_slash_path() -> None:
    assert {r.path for r in DIALECT.routes} == {"/api/v1/s2s/event", "/api/v1/s2s/event/"}
    assert all(r.methods == ("POST",) for r in DIALECT.routes)


def test_auth_is_the_query_token_of_api_key_dot_server_token() -> None:
    assert tuple(DIALECT.auth) == ("query_token",)
    assert DIALECT.credentials({"api_key": "UMabc", "server_token": "sec_xyz"}) == ["UMabc.sec_xyz"]
    assert DIALECT.secret_fields == ("server_token",)


def test_one_object_is_one_item_and_an_array_is_many() -> None:
    single = DIALECT.unpack(payload("identify"), ROUTE)
    assert single.items == [payload("identify")]
    assert single.many is False
    bulk = DIALECT.unpack(payload("bulk"), ROUTE)
    assert bulk.items == payload("bulk")
    assert bulk.many is True
    # Items that are not objects are the schema's to refuse, with their index.
    assert DIALECT.unpack([1, "x"], ROUTE).items == [1, "x"]


@pytest.mark.parametrize(("body", "code"), [([], "empty_batch"), ("event", "invalid_body"),
                                            (42, "invalid_body"), (None, "invalid_body")])
def test_other_bodies_are_refused(body: Any, code: str) -> None:
    with pytest.raises(GatewayError) as caught:
        DIALECT.unpack(body, ROUTE)
    assert caught.value.status == 400
    assert caught.value.code == code


def test_source_settings_need_both_halves_of_the_token() -> None:
    schema = {"type": "object", **SOURCE_SCHEMA}
    jsonschema.validate({"api_key": "a", "server_token": "b"}, schema)
    for bad in ({"api_key": "a"}, {"server_token": "b"}, {"api_key": "", "server_token": "b"},
                {"api_key": "a", "server_token": 5}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


def test_generated_credentials_are_fresh_and_fit_a_query_token() -> None:
    first, second = generate_credentials(), generate_credentials()
    assert set(first) == {"api_key", "server_token"}
    assert first != second
    for value in first.values():
        assert value.replace("_", "").isalnum()
    jsonschema.validate(first, {"type": "object", **SOURCE_SCHEMA})


def test_success_answer_says_ok_and_keeps_the_core_counts() -> None:
    result = IngestResult(accepted=2, rejected=[{"index": 1, "code": "invalid_event"}])
    body = DIALECT.ok_body({"success": True, "accepted": 2, "rejected": list(result.rejected)}, result)
    assert body["status"] == "ok"
    assert body["accepted"] == 2
    assert body["rejected"] == [{"index": 1, "code": "invalid_event"}]


@pytest.mark.parametrize("error", [Unauthorized("missing key"), InvalidEvent("bad", field="user"),
                                   GatewayError("too big", detail={"limit": "max_request_bytes"})])
def test_error_answer_adds_status_error_to_the_core_shape(error: GatewayError) -> None:
    body = DIALECT.error_body(error.body(), error)
    assert body["status"] == "error"
    assert body["code"] == error.code
    # The SDK shows ``detail``: the core's when it has one, else the message (the core leaves it null
    # rather than repeat the message).
    assert body["detail"] == (error.detail if error.detail is not None else error.message)
    assert body["message"] == error.message
