"""Bad input on every route of every dialect: always 2xx or a 4xx JSON error, never a 5xx or a hang.

Hypothesis drives a real gateway over HTTP: events near each dialect's schema and far beyond it
(wrong types, missing fields, huge strings, deep nesting), raw bodies JSON cannot even express
(NaN, Infinity, 10^400, invalid UTF-8, duplicate keys), every auth style right and wrong, wrong
Content-Type and Content-Encoding, empty and gzip-garbage bodies. The routes come from the
gateway's own /openapi.json, so a route added later is fuzzed without touching this file.
"""

from __future__ import annotations

import base64
import gzip
import json
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability.support import (
    ADMIN,
    FILUM_KEY,
    PH_KEY,
    SECRETS,
    SEGMENT_KEY,
    STDOUT,
    UM_API_KEY,
    UM_TOKEN,
    assert_json_error,
    config,
    right_auth,
)
from tests.support.server import RunningGateway

pytestmark = pytest.mark.timeout(180)

FUZZ = settings(max_examples=150, deadline=None, database=None, derandomize=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])

# A valid event per dialect to mutate: the closer to valid, the deeper into the pipeline it gets.
SEEDS: dict[str, dict[str, Any]] = {
    "segment_style": {"type": "track", "event": "Fuzzed", "userId": "u1", "properties": {"n": 1},
                      "context": {"library": {"name": "fuzz"}}, "timestamp": "2024-05-01T12:00:00Z"},
    "filum": {"event_type": "track", "event_name": "Fuzzed", "user_id": "u1",
              "event_params": [{"key": "n", "value": {"int_value": 1}}], "timestamp": "2024-05-01T12:00:00Z"},
    "usermaven": {"api_key": UM_API_KEY, "event_type": "fuzzed", "user": {"id": "u1", "email": "a@b.c"},
                  "event_attributes": {"n": 1}, "_timestamp": 1714564800000},
    "posthog": {"event": "fuzzed", "distinct_id": "u1", "properties": {"n": 1, "$set": {"plan": "pro"}},
                "timestamp": "2024-05-01T12:00:00Z"},
}


@pytest.fixture(scope="module", params=["hypercorn", "uvicorn"])
def gw(module_gateway_factory: Any, request: pytest.FixtureRequest) -> Iterator[RunningGateway]:
    """One gateway per HTTP engine (``[server] engine``): each must survive all of it."""
    gateway: RunningGateway = module_gateway_factory(config(STDOUT, server={"engine": request.param}),
                                                     name=f"fuzz-{request.param}")
    INGEST_STATUSES.clear()
    yield gateway
    # The server survived everything: alive, healthy, and it logged no internal error.
    assert gateway.process is not None and gateway.process.poll() is None, "the gateway died"
    assert gateway.get("/health").status_code == 200
    stderr = gateway.stderr()
    assert "internal error" not in stderr and "Traceback" not in stderr, stderr[-4000:]
    for secret in SECRETS:
        assert secret not in stderr
    # The fuzzing reached every stage: events were accepted, and each kind of refusal was made.
    if INGEST_STATUSES:  # (unless only some of this module's tests ran)
        assert {200, 400, 401, 413, 415} <= set(INGEST_STATUSES), INGEST_STATUSES


INGEST_STATUSES: Counter[int] = Counter()


def ingest_routes(gw: RunningGateway) -> list[tuple[str, str]]:
    """(path, dialect) of every ingestion operation the gateway documents."""
    document = gw.get("/openapi.json").json()
    routes = []
    for path, operations in document["paths"].items():
        post = operations.get("post")
        if post and post.get("tags") and post["tags"][0] != "admin":
            routes.append((path, post["tags"][0]))
    return routes


@pytest.fixture(scope="module")
def routes(gw: RunningGateway) -> list[tuple[str, str]]:
    found = ingest_routes(gw)
    assert {d for _, d in found} >= set(SEEDS), found
    return found


# -- strategies ------------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30),
    st.sampled_from(["", " ", "\x00", "\ud7ff", "null", "track", "2024-13-45T99:99:99Z", "a" * 40_000]),
)
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=12)


@st.composite
def mutated_event(draw: st.DrawFn, dialect: str) -> Any:
    """The dialect's valid event with fields replaced, removed or added — or something else entirely."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)
    event = json.loads(json.dumps(SEEDS[dialect]))
    keys = list(event)
    for _ in range(draw(st.integers(0, 3))):
        action = draw(st.sampled_from(["replace", "delete", "add", "nest"]))
        key = draw(st.sampled_from(keys))
        if action == "replace":
            event[key] = draw(json_values)
        elif action == "delete":
            event.pop(key, None)
        elif action == "add":
            event[draw(st.text(max_size=20))] = draw(json_values)
        else:
            depth = draw(st.sampled_from([50, 200, 300, 600, 1000]))
            event[key] = json.loads("[" * depth + "]" * depth)
    return event


@st.composite
def json_body(draw: st.DrawFn, dialect: str, path: str) -> Any:
    events = draw(st.lists(mutated_event(dialect), min_size=0, max_size=4))
    shape = draw(st.sampled_from(["one", "array", "batch", "other"]))
    if shape == "one":
        return events[0] if events else {}
    if shape == "array":
        return events
    if shape == "batch":
        return {"batch": events, "context": draw(json_values), "sentAt": draw(scalars)}
    return draw(json_values)


def nested(depth: int) -> bytes:
    return b'{"type": "track", "event": "x", "properties": {"p": ' + b"[" * depth + b"]" * depth + b"}}"


RAW_BODIES = [
    b"", b" ", b"\n\n", b"null", b"0", b"true", b'"string"', b"[]", b"{}", b"[[]]", b"[null]",
    b"NaN", b"Infinity", b"-Infinity", b'{"event": NaN}', b'{"a": Infinity}',
    b"1" + b"0" * 400, b'{"type": "track", "event": "x", "userId": "u", "properties": {"n": 1e400}}',
    b'{"type": "track", "event": "x", "userId": 1' + b"0" * 400 + b"}",
    b'{"event_type": "track", "event_type": "identify", "event_name": "dup", "user_id": "u"}',
    b'{"type": "track", "type": "identify", "event": "dup", "userId": "u"}',
    b'{"event": "\xff\xfe\xfd"}', b"\xff\xd8\xff\xe0 not json", b'{"event": "\xed\xa0\x80"}',
    b'{"event": "\\ud800"}', b'{"userId": "\\u0000"}', b"\xef\xbb\xbf{}",
    nested(2000), nested(1000), nested(500), nested(250), b"[" * 5000,
    b'{"batch": [' + b",".join([b"{}"] * 5000) + b"]}",
    b"[" + b",".join([b'{"event_type": "track"}'] * 3000) + b"]",
    b'{"type": "track", "event": "' + b"x" * 33_000 + b'", "userId": "u"}',
    b'{"event_type": "track", "event_name": "big", "user_id": "' + b"u" * 40_000 + b'"}',
    b"\x1f\x8b\x08\x00garbage", gzip.compress(b"not json at all"), gzip.compress(b"")[:10],
]


@st.composite
def raw_body(draw: st.DrawFn) -> bytes:
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return draw(st.binary(max_size=300))
    if choice == 1:  # valid JSON text with a byte flipped somewhere
        text = bytearray(json.dumps(draw(json_values)).encode())
        if text:
            text[draw(st.integers(0, len(text) - 1))] = draw(st.integers(0, 255))
        return bytes(text)
    return draw(st.sampled_from(RAW_BODIES))


AUTHS = st.sampled_from([
    "right", "right", "right", "none", "basic-wrong", "bearer-wrong", "query-wrong", "basic-garbage",
    "basic-empty", "bearer-empty", "other-dialects-key", "huge", "scheme-only", "query-repeated",
])


def auth_for(kind: str, dialect: str) -> dict[str, Any]:
    if kind == "right":
        return right_auth(dialect)
    headers = {
        "basic-wrong": "Basic " + base64.b64encode(b"wrong-key:").decode(),
        "bearer-wrong": "Bearer wrong-key",
        "basic-garbage": "Basic !!!***",
        "basic-empty": "Basic " + base64.b64encode(b":").decode(),
        "bearer-empty": "Bearer \"\"",
        "other-dialects-key": f"Bearer {SEGMENT_KEY if dialect != 'segment_style' else FILUM_KEY}",
        "huge": "Bearer " + "k" * 6000,
        "scheme-only": "Basic",
    }
    if kind in headers:
        return {"headers": {"Authorization": headers[kind]}}
    if kind == "query-wrong":
        return {"params": {"token": "nope.nope"}}
    if kind == "query-repeated":
        return {"params": [("token", UM_TOKEN), ("token", "x")]}
    return {}


CONTENT_TYPES = st.sampled_from([None, "application/json", "text/plain", "application/x-www-form-urlencoded",
                                 "multipart/form-data; boundary=x", "application/json; charset=latin-1", ""])
ENCODINGS = st.sampled_from([None, None, None, "gzip", "br", "identity", "gzip, gzip", "x-gzip"])


def check(response: httpx.Response) -> None:
    assert response.status_code < 500, f"{response.status_code}: {response.text[:2000]}"
    if response.status_code >= 400:
        body = assert_json_error(response)
        for secret in SECRETS:
            assert secret not in response.text, body
    else:
        assert response.status_code == 200, response.text
        response.json()


def send(gw: RunningGateway, path: str, data: bytes, auth: dict[str, Any], content_type: str | None,
         encoding: str | None, write_key: str | None = None) -> httpx.Response:
    headers = dict(auth.get("headers", {}))
    if content_type is not None:
        headers["Content-Type"] = content_type
    if encoding is not None:
        headers["Content-Encoding"] = encoding
        if encoding in ("gzip", "x-gzip") and data[:2] != b"\x1f\x8b":
            data = gzip.compress(data)
    response = gw.client.post(path, content=data, headers=headers, params=auth.get("params"), timeout=20)
    INGEST_STATUSES[response.status_code] += 1
    return response


@FUZZ
@given(data=st.data())
def test_json_bodies_near_and_far_from_each_schema(gw: RunningGateway, routes: list[tuple[str, str]],
                                                   data: st.DataObject) -> None:
    path, dialect = data.draw(st.sampled_from(routes), label="route")
    body = data.draw(json_body(dialect, path), label="body")
    auth = auth_for(data.draw(AUTHS, label="auth"), dialect)
    if dialect == "segment_style" and isinstance(body, dict) and data.draw(st.booleans(), label="body key"):
        body["writeKey"] = data.draw(st.sampled_from([SEGMENT_KEY, "wrong", 7, None, {"a": 1}]), label="writeKey")
    if dialect == "posthog" and isinstance(body, dict) and data.draw(st.booleans(), label="body key"):
        body["api_key"] = data.draw(st.sampled_from([PH_KEY, PH_KEY, "wrong", 7, None, [PH_KEY]]), label="api_key")
    check(send(gw, path, json.dumps(body).encode(), auth, data.draw(CONTENT_TYPES, label="content type"),
               data.draw(ENCODINGS, label="encoding")))


@FUZZ
@given(data=st.data())
def test_raw_bodies_json_cannot_express(gw: RunningGateway, routes: list[tuple[str, str]],
                                        data: st.DataObject) -> None:
    path, dialect = data.draw(st.sampled_from(routes), label="route")
    auth = auth_for(data.draw(AUTHS, label="auth"), dialect)
    check(send(gw, path, data.draw(raw_body(), label="body"), auth, data.draw(CONTENT_TYPES, label="content type"),
               data.draw(ENCODINGS, label="encoding")))


@pytest.fixture(scope="module")
def distinct_routes(gw: RunningGateway) -> list[tuple[str, str]]:
    """One route per distinct request body a dialect documents (``/v1/track`` stands for its copies)."""
    document = gw.get("/openapi.json").json()
    seen: dict[str, tuple[str, str]] = {}
    for path, dialect in ingest_routes(gw):
        body = json.dumps(document["paths"][path]["post"]["requestBody"], sort_keys=True)
        seen.setdefault(dialect + body, (path, dialect))
    return list(seen.values())


@pytest.mark.parametrize("body", RAW_BODIES, ids=range(len(RAW_BODIES)))
def test_every_raw_body_on_every_kind_of_route(gw: RunningGateway, distinct_routes: list[tuple[str, str]],
                                               body: bytes) -> None:
    """The hand-picked hard cases, each with the right key (the hypothesis tests sample them on every route)."""
    assert len(distinct_routes) >= 5
    for path, dialect in distinct_routes:
        check(send(gw, path, body, right_auth(dialect), "application/json", None))


def test_a_nesting_depth_that_parses_but_cannot_be_stored_is_a_400(gw: RunningGateway,
                                                                   routes: list[tuple[str, str]]) -> None:
    r = send(gw, "/v1/track", nested(400), right_auth("segment_style"), "application/json", None)
    assert_json_error(r, 400)


NUMBERISH = st.one_of(st.text(max_size=8), st.sampled_from(["²", "٣", "1e3", "-1", "0", "1" * 30, "%00", "½"]),
                      st.integers(-(2**70), 2**70).map(str))


@pytest.fixture(scope="module")
def admin_reads(gw: RunningGateway) -> list[str]:
    document = gw.get("/openapi.json").json()
    return sorted(p for p, ops in document["paths"].items()
                  if "get" in ops and {"admin": []} in ops["get"].get("security", []))


@settings(FUZZ, max_examples=60)
@given(data=st.data())
def test_admin_reads_with_odd_names_and_query_values(gw: RunningGateway, admin_reads: list[str],
                                                     data: st.DataObject) -> None:
    """Path and query values of the admin API's reads: never a 5xx, errors in the JSON shape."""
    path = data.draw(st.sampled_from(admin_reads), label="path")
    name = data.draw(st.one_of(st.sampled_from(["backend", "crm", "site"]), st.text(min_size=1, max_size=20)),
                     label="name")
    segment = urllib.parse.quote(name, safe="")
    url = path.replace("{name}", segment).replace("{id}", segment)
    params = {key: data.draw(NUMBERISH, label=key) for key in data.draw(
        st.lists(st.sampled_from(["limit", "before", "state", "since"]), unique=True), label="keys")}
    r = gw.client.get(url, params=params, headers=ADMIN)
    assert r.status_code < 500, f"{r.status_code}: {r.text[:2000]}"
    if r.status_code >= 400:
        assert_json_error(r)
