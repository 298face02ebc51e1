"""``/openapi.json`` describes every route the gateway serves, and the gateway keeps to it:
schemathesis generates requests from the document (valid and invalid) against a real server."""

from __future__ import annotations

import json
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gateway.auth import key_locations
from gateway.testing import load_plugins
from tests.reliability.support import (
    ADMIN,
    FILUM_KEY,
    PH_KEY,
    SEGMENT_KEY,
    STDOUT,
    UM_TOKEN,
    config,
    right_auth,
    webhook_sink,
)
from tests.support.openapi_places import (
    ARRAY,
    Place,
    declared_places,
    described_places,
    ingest_operations,
    places,
    status_of,
)
from tests.support.server import RunningGateway

pytestmark = pytest.mark.timeout(150)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def gw(module_gateway_factory: Any) -> RunningGateway:
    gateway: RunningGateway = module_gateway_factory(config(STDOUT, webhook_sink("http://127.0.0.1:9/hook")),
                                                     name="openapi")
    return gateway


@pytest.fixture(scope="module")
def document(gw: RunningGateway) -> dict[str, Any]:
    r = gw.get("/openapi.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    doc: dict[str, Any] = r.json()
    return doc


def test_every_dialect_route_is_described_with_its_auth_and_body(gw: RunningGateway,
                                                                 document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    paths = document["paths"]
    dialects = gw.get("/api/v1/dialects", headers=ADMIN).json()["dialects"]
    assert {d["name"] for d in dialects} >= {"segment_style", "filum", "usermaven"}
    expected = {"/v1/track": ("segment_style", {"basic"}), "/analytics/v1/batch": ("segment_style", {"basic"}),
                "/events": ("filum", {"bearer"}), "/api/v1/s2s/event": ("usermaven", {"query_token"}),
                "/api/v1/s2s/event/": ("usermaven", {"query_token"})}
    for path, (dialect, styles) in expected.items():
        operation = paths[path]["post"]
        assert operation["tags"] == [dialect]
        assert {name for alternative in operation["security"] for name in alternative} == styles
        assert {"200", "400", "401", "413", "429", "503"} <= set(operation["responses"])
        assert "Retry-After" in operation["responses"]["503"]["headers"]
    # The body forms come from each dialect's own unpacking: one object, an array, {"batch": [...]}.
    assert "oneOf" in paths["/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    batch = paths["/v1/batch"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert batch["required"] == ["batch"] and "writeKey" in batch["properties"]
    track = document["components"]["schemas"]["segment_style.Event.track"]
    assert "type" not in track.get("required", []) and track["properties"]["type"] == {"const": "track"}
    # Every $ref points at a component that exists.
    schemas = document["components"]["schemas"]
    refs = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.add(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    assert refs and all(r.removeprefix("#/components/schemas/") in schemas for r in refs), refs


def test_admin_and_plugin_routes_are_described_with_the_admin_key(document: dict[str, Any]) -> None:
    paths = document["paths"]
    for path in ("/api/v1/sources", "/api/v1/webhooks", "/api/v1/webhooks/{id}/replay"):
        for operation in paths[path].values():
            assert operation["security"] == [{"admin": []}], path
            assert "401" in operation["responses"]
    assert paths["/api/v1/webhooks"]["post"]["summary"] == "create a webhook"  # the plugin's own words
    assert paths["/api/v1/sources/{name}"]["get"]["parameters"][0]["name"] == "name"
    assert "security" not in paths["/health"]["get"]
    assert document["components"]["securitySchemes"]["admin"]["scheme"] == "bearer"


def test_every_key_place_a_dialect_declares_is_in_the_document(document: dict[str, Any]) -> None:
    dialects = load_plugins().dialects()
    checked = set()
    for path, _, operation in ingest_operations(document):
        dialect = dialects[operation["tags"][0]]
        [route] = [r for r in dialect.routes if r.path == path]
        assert described_places(document, operation) == declared_places(key_locations(dialect, route)), path
        checked.add(dialect.name)
    assert checked >= {"segment_style", "filum", "usermaven", "posthog"}


def test_posthog_and_query_key_places_are_described(document: dict[str, Any]) -> None:
    paths, schemes = document["paths"], document["components"]["securitySchemes"]
    every = {"body:api_key", "body:token", "body:properties.token", "body:batch.properties.token",
             "body:batch.api_key"}
    for path in ("/batch/", "/batch", "/e/", "/capture/", "/i/v0/e"):
        operation = paths[path]["post"]
        assert described_places(document, operation) == every, path
        assert operation["security"] == [{}]  # nothing outside the body is needed
        found = {p.path for p in places(document, operation)}
        # The Python SDK's {"api_key": ..., "batch": [...]}, posthog-js's [{"properties": {"token": ...}}]
        # and one event's properties.token: each where that client puts it.
        assert {("api_key",), ("batch", ARRAY, "properties", "token"), (ARRAY, "properties", "token"),
                ("properties", "token")} <= found, found
        assert "api_key" in operation["description"] and "properties.token" in operation["description"]
    usermaven = paths["/api/v1/s2s/event"]["post"]
    assert usermaven["security"] == [{"query_token": []}]
    assert schemes["query_token"] == {"type": "apiKey", "in": "query", "name": "token",
                                      "description": "?token=<the source's key>"}
    for path, method in (("/pixel/v1/track", "get"), ("/beacon/v1/batch", "post")):
        assert described_places(document, paths[path][method]) == {"query:writeKey"}, path
    assert described_places(document, paths["/v1/batch"]["post"]) == {"basic:", "body:writeKey"}


RIGHT_KEYS = {"segment_style": SEGMENT_KEY, "filum": FILUM_KEY, "usermaven": UM_TOKEN, "posthog": PH_KEY}


def test_each_described_key_place_is_read_by_the_gateway(gw: RunningGateway, document: dict[str, Any]) -> None:
    """A right key at a place the document names gets past auth; a wrong one there is refused as wrong
    (not as missing): so the place is read, and read as the key."""
    seen: set[tuple[str, str, Place]] = set()
    for path, method, operation in ingest_operations(document):
        dialect = operation["tags"][0]
        for place in places(document, operation):
            if (dialect, method, place) in seen:
                continue  # routes of one dialect share their places
            seen.add((dialect, method, place))
            for key, refused in ((RIGHT_KEYS[dialect], False), ("a-wrong-key-0123456789", True)):
                request = place.request(key)
                if method == "POST" and "json" not in request:
                    request["json"] = {}
                status, code = status_of(gw.client.request(method, path, **request))
                assert (status, code) == (401, "invalid_key") if refused else status != 401, (path, place, status)
    assert {d for d, _, _ in seen} == set(RIGHT_KEYS) and len(seen) >= 12, seen


def auth_for(path: str, document: dict[str, Any]) -> dict[str, Any]:
    operation = document["paths"][path]
    if "post" in operation and operation["post"].get("tags", ["admin"])[0] != "admin":
        return right_auth(operation["post"]["tags"][0])
    return {"headers": ADMIN}


def fuzz(gw: RunningGateway, operation: schemathesis.APIOperation, mode: GenerationMode,
         auth: dict[str, Any]) -> None:
    """Up to a few examples of ``operation`` in ``mode``, each sent and checked against the document."""
    @settings(max_examples=8, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        response = case.call(base_url=gw.url, headers=auth.get("headers"), params=auth.get("params"), timeout=15)
        case.validate_response(response, checks=CHECKS, headers=auth.get("headers"))

    try:
        run()
    except Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE  # nothing to get wrong: no parameters, no body


def test_schemathesis_finds_no_server_error_and_no_answer_outside_the_document(
        gw: RunningGateway, document: dict[str, Any]) -> None:
    schema = schemathesis.openapi.from_url(f"{gw.url}/openapi.json")
    tested = []
    bodies: set[str] = set()
    for result in schema.get_all_operations():
        operation = result.ok()
        method = operation.method.upper()
        ingest = method == "POST" and "admin" not in operation.definition.raw.get("tags", ["admin"])
        if not ingest and method != "GET":
            continue  # changing admin calls could create webhooks, whose test POST would leave 127.0.0.1
        # Routes with the same body behave alike (/v1/track and /analytics/v1/track): one of each.
        body = json.dumps(operation.definition.raw.get("requestBody"), sort_keys=True)
        if body != "null" and body in bodies:
            continue
        bodies.add(body)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz(gw, operation, mode, auth_for(operation.path, document))
        tested.append(f"{method} {operation.path}")
    assert "POST /events" in tested and "POST /v1/batch" in tested and "GET /api/v1/sources" in tested
    assert gw.get("/health").status_code == 200
    assert "internal error" not in gw.stderr()
