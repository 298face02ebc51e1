"""/openapi.json names every place a dialect declares for its key (header, query parameters, body
paths, nested and in batches), and each place it names is one the gateway reads: in-process, with a
dialect that uses all of them (the built-in dialects are checked over a real server in
tests/reliability/test_openapi.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis

from gateway import Dialect, DialectRoute, ItemContext, Unpacked, hookimpl
from gateway.auth import key_locations
from gateway.testing import Pipeline
from tests.support.openapi_places import (
    ARRAY,
    Place,
    declared_places,
    described_places,
    ingest_operations,
    places,
    status_of,
)

SECRET = "keys-secret-0123456789"


def _unpack(body: Any, route: DialectRoute) -> Unpacked:
    if isinstance(body, dict) and "items" in body:
        return Unpacked(body["items"], True, "items")
    return Unpacked([body], False)


def _map(item: Any, ctx: ItemContext) -> list[dict[str, Any]]:
    return [{"type": "track", "event": item.get("e", "x"), "userId": "u"}]


KEYS_DIALECT = Dialect(
    name="keys",
    routes=[DialectRoute("/keys"), DialectRoute("/keys/beacon", query_key_params=("writeKey",)),
            DialectRoute("/keys/header-only", auth=("header",))],
    auth=("header", "query_token", "body_write_key"), key_header="X-Keys-Key", query_key_params=("key", "k"),
    body_key_fields=("auth", "meta.key", "items.meta.key"),
    item_schema={"type": "object"}, unpack=_unpack, map=_map,
    credentials=lambda s: [s["secret"]],
    source_schema={"properties": {"secret": {"type": "string"}}, "required": ["secret"]})


class KeysPlugin:
    @hookimpl
    def register_dialects(self, register: Callable[[Dialect], None]) -> None:
        register(KEYS_DIALECT)


@pytest.fixture(scope="module")
def gw() -> Iterator[Pipeline]:
    with Pipeline(sources=[{"name": "k", "dialect": "keys", "secret": SECRET}], plugins=[KeysPlugin()]) as pipeline:
        yield pipeline


@pytest.fixture(scope="module")
def document(gw: Pipeline) -> dict[str, Any]:
    outcome = gw.post("/openapi.json", method="GET")
    assert outcome.status == 200
    doc: dict[str, Any] = outcome.answer
    return doc


def test_the_header_every_query_parameter_and_every_body_path_are_described(document: dict[str, Any]) -> None:
    paths, schemes = document["paths"], document["components"]["securitySchemes"]
    keys = paths["/keys"]["post"]
    assert keys["security"] == [{"header_X-Keys-Key": []}, {"query_key": []}, {"query_k": []}, {}]
    assert schemes["header_X-Keys-Key"] == {"type": "apiKey", "in": "header", "name": "X-Keys-Key",
                                            "description": "X-Keys-Key: <the source's key>"}
    assert (schemes["query_key"]["in"], schemes["query_key"]["name"]) == ("query", "key")
    assert described_places(document, keys) == {"header:X-Keys-Key", "query:key", "query:k", "body:auth",
                                                "body:meta.key", "body:items.meta.key"}
    # In a batch body the nested path is read inside each item; the others at the top.
    assert {p.path for p in places(document, keys)} >= {("auth",), ("meta", "key"), ("items", ARRAY, "meta", "key")}
    assert "X-Keys-Key header" in keys["description"] and "as meta.key in the body" in keys["description"]
    # A route naming its own query parameter; a route taking the header only (its body keys are
    # removed, never read as a key: not described).
    assert described_places(document, paths["/keys/beacon"]["post"]) == {
        "header:X-Keys-Key", "query:writeKey", "body:auth", "body:meta.key", "body:items.meta.key"}
    assert paths["/keys/header-only"]["post"]["security"] == [{"header_X-Keys-Key": []}]


def test_described_places_are_the_declared_ones_on_every_route(document: dict[str, Any]) -> None:
    routes = {r.path: r for r in KEYS_DIALECT.routes}
    operations = [(path, op) for path, _, op in ingest_operations(document) if op["tags"] == ["keys"]]
    assert {path for path, _ in operations} == set(routes)
    for path, operation in operations:
        assert described_places(document, operation) == declared_places(key_locations(KEYS_DIALECT, routes[path]))


def test_each_described_place_is_read_as_the_key(gw: Pipeline, document: dict[str, Any]) -> None:
    tried: list[Place] = []
    for path, _, operation in ingest_operations(document):
        if operation["tags"] != ["keys"]:
            continue
        for place in places(document, operation):
            for key, refused in ((SECRET, False), ("a-wrong-key-0123456789", True)):
                request = place.request(key)
                request.setdefault("json", {"e": "x"})
                outcome = gw.post(path, **request)
                got = (outcome.status, outcome.answer.get("code") if outcome.status != 200 else None)
                assert got == ((401, "invalid_key") if refused else (200, None)), (path, place, outcome.answer)
            tried.append(place)
    assert len(tried) >= 12


def test_the_document_loads_in_schemathesis(document: dict[str, Any]) -> None:
    operations = [result.ok() for result in schemathesis.openapi.from_dict(document).get_all_operations()]
    assert {op.path for op in operations} >= {"/keys", "/keys/beacon", "/keys/header-only"}


def test_status_of_reads_a_pixels_refusal_from_its_header() -> None:
    import httpx

    assert status_of(httpx.Response(200, headers={"X-Gateway-Error": "401 invalid_key"})) == (401, "invalid_key")
    assert status_of(httpx.Response(200)) == (200, None)
    assert status_of(httpx.Response(400, json={"code": "bad"})) == (400, "bad")
