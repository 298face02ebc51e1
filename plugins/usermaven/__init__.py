"""Usermaven's server-to-server event API: apps and the ``usermaven`` Python SDK post here unchanged.

Auth is ``?token=API_KEY.SERVER_TOKEN``; each event's ``api_key`` must also be the source's.
The mapping is in ``mapping.py`` and documented field by field in this folder's README.
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

ROUTES = (
    DialectRoute("/api/v1/s2s/event", summary="One Usermaven event, or a JSON array of them (bulk)"),
    # The official Python SDK posts to the trailing-slash form. Answered directly, not through the
    # router's slash redirect: that would cost every batch a second round trip, and a client that
    # does not resend a POST on a 307 would lose the events.
    DialectRoute("/api/v1/s2s/event/", summary="The same, as the usermaven Python SDK spells it"),
)

SOURCE_SCHEMA: dict[str, Any] = {
    "properties": {
        "api_key": {"type": "string", "minLength": 1,
                    "description": "The workspace key; apps also put it in each event"},
        "server_token": {"type": "string", "minLength": 1, "description": "The secret half of the token"},
    },
    "required": ["api_key", "server_token"],
}


def unpack(body: Any, route: DialectRoute) -> Unpacked:
    if isinstance(body, dict):
        return Unpacked([body], many=False)
    if isinstance(body, list):
        if not body:
            raise GatewayError("the array holds no events", code="empty_batch")
        return Unpacked(body, many=True)
    raise GatewayError("the body must be an event object or an array of event objects",
                       code="invalid_body")


def credentials(settings: Mapping[str, Any]) -> list[str]:
    return [f"{settings['api_key']}.{settings['server_token']}"]


def generate_credentials() -> dict[str, str]:
    # Hex keeps both halves free of "." (the separator) and of characters a query string escapes.
    return {"api_key": "UM" + secrets.token_hex(6), "server_token": "sec_" + secrets.token_hex(20)}


def ok_body(body: dict[str, Any], result: IngestResult) -> dict[str, Any]:
    # The SDK only checks for 200, but the documented answer is {"status": "ok"}.
    return {"status": "ok", **body}


def error_body(body: dict[str, Any], error: GatewayError) -> dict[str, Any]:
    # The SDK shows ``detail`` of a failed answer (the message, when the core has nothing more);
    # ``status`` mirrors the success shape.
    detail = body.get("detail")
    return {"status": "error", **body, "detail": body["message"] if detail is None else detail}


DIALECT = Dialect(
    name="usermaven",
    routes=ROUTES,
    auth=("query_token",),
    item_schema=ITEM_SCHEMA,
    unpack=unpack,
    map=map_event,
    credentials=credentials,
    source_schema=SOURCE_SCHEMA,
    generate_credentials=generate_credentials,
    # The api_key is semi-public (it rides in every event body); the server token is the secret.
    secret_fields=("server_token",),
    ok_body=ok_body,
    error_body=error_body,
    description="Usermaven server-to-server events (POST /api/v1/s2s/event?token=API_KEY.SERVER_TOKEN)",
)


@hookimpl
def register_dialects(register: Callable[[Dialect], None]) -> None:
    register(DIALECT)
