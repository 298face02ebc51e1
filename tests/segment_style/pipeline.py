"""The dialect's part of a request, in-process: unpack, schema, map, then the core's enrichment.

For fast tests of the mapping; tests/segment_style/test_http.py checks the same golden files
against what a real gateway's stdout sink prints.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from gateway_plugins.segment_style import DIALECT, ITEM_SCHEMA

from gateway import GatewayError, InvalidEvent, ItemContext, Source
from gateway.enrich import Stamp, enrich
from gateway.validation import CompiledSchema

SCHEMA = CompiledSchema(ITEM_SCHEMA)
ROUTES = {route.path: route for route in DIALECT.routes}
STAMP = Stamp(datetime(2024, 5, 1, 12, 0, tzinfo=UTC), "127.0.0.1")


def source(**settings: Any) -> Source:
    return Source(name="backend", dialect="segment_style", settings={"write_key": "wk", **settings})


def run(path: str, body: Any, src: Source | None = None) -> list[dict[str, Any]]:
    """Canonical events of one request body (text or parsed); raises the first item's error."""
    src = src or source()
    payload = orjson.loads(body) if isinstance(body, str) else body
    if isinstance(payload, dict):
        payload.pop("writeKey", None)  # what the core's body_write_key auth does
    route = ROUTES[path]
    unpacked = DIALECT.unpack(payload, route)
    events: list[dict[str, Any]] = []
    for index, item in enumerate(unpacked.items):
        prefix = f"{unpacked.path}[{index}]" if unpacked.many else ""
        problem = SCHEMA.check(item, prefix)
        if problem is not None:
            raise InvalidEvent(problem.message, field=problem.field)
        try:
            mapped = DIALECT.map(item, ItemContext(src, route, index))
        except InvalidEvent as error:  # the core names the item's place, as for schema failures
            error.field = f"{prefix}.{error.field}" if prefix and error.field else error.field
            raise
        for event in mapped:
            events.append(dict(enrich(event, STAMP, src)))
    return events


def error_of(path: str, body: Any, src: Source | None = None) -> GatewayError:
    try:
        run(path, body, src)
    except GatewayError as error:
        return error
    raise AssertionError(f"{path} accepted {body!r}")
