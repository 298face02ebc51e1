"""PostHog's capture API, as the posthog SDKs (Python, posthog-js) send it.

Written only against the public plugin surface (``gateway``); the mapping is in ``mapping.py`` and
its table in this folder's README.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping
from importlib.resources import files
from typing import Any

from gateway import Dialect, DialectRoute, GatewayError, IngestResult, Unpacked, hookimpl

from .mapping import map_event

ITEM_SCHEMA: dict[str, Any] = json.loads(files(__name__).joinpath("event.schema.json").read_text("utf-8"))

_PATHS = ("/capture", "/e", "/i/v0/e", "/batch")
# Both spellings are answered directly: a slash redirect would cost every request a round trip,
# and a client that does not resend a POST on a 307 would lose its events.
ROUTES = tuple(DialectRoute(path + slash, kind="batch" if path == "/batch" else "capture",
                            summary="PostHog events: one, an array, or {\"batch\": [...]}")
               for path in _PATHS for slash in ("/", ""))

SOURCE_SCHEMA: dict[str, Any] = {
    "properties": {"api_key": {"type": "string", "minLength": 1,
                               "description": "The project API key the SDKs send (phc_...)"}},
    "required": ["api_key"],
}


def unpack(body: Any, route: DialectRoute) -> Unpacked:
    if isinstance(body, list):
        if not body:
            raise GatewayError("the array holds no events", code="empty_batch")
        return Unpacked(body, many=True)
    if isinstance(body, dict) and "batch" in body:
        items = body["batch"]
        if not isinstance(items, list) or not items:
            raise GatewayError("batch must be a non-empty array of events", code="invalid_batch",
                               detail={"field": "batch"})
        return Unpacked(items, many=True, path="batch")
    if isinstance(body, dict):
        return Unpacked([body], many=False)
    raise GatewayError("the body must be an event, an array of events or {\"batch\": [...]}",
                       code="invalid_body")


def credentials(settings: Mapping[str, Any]) -> list[str]:
    return [settings["api_key"]]


def generate_credentials() -> dict[str, str]:
    return {"api_key": "phc_" + secrets.token_urlsafe(24)}


def ok_body(body: dict[str, Any], result: IngestResult) -> dict[str, Any]:
    # PostHog answers {"status": 1}; its SDKs read only the status code.
    return {"status": 1, **body}


DIALECT = Dialect(
    name="posthog",
    routes=ROUTES,
    auth=("body_write_key",),
    # The Python SDK puts the key at the top; posthog-js in every event's properties.token.
    body_key_fields=("api_key", "token", "properties.token", "batch.properties.token", "batch.api_key"),
    body_decoders=("gzip_query", "form_data", "json"),
    item_schema=ITEM_SCHEMA,
    unpack=unpack,
    map=map_event,
    credentials=credentials,
    source_schema=SOURCE_SCHEMA,
    generate_credentials=generate_credentials,
    ok_body=ok_body,
    max_event_bytes=1024 * 1024,
    max_request_bytes=20 * 1024 * 1024,
    description="PostHog capture API (POST /capture/, /e/, /i/v0/e/, /batch/)",
)


@hookimpl
def register_dialects(register: Callable[[Dialect], None]) -> None:
    register(DIALECT)
