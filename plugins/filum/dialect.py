"""The Filum Event API dialect: ``POST /events`` with a Bearer write key, one event or an array."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from gateway import Dialect, DialectRoute, GatewayError, Unpacked

from .mapping import map_event
from .schema import item_schema

ROUTE = DialectRoute(
    "/events",
    summary="Filum Event API: one event object, or a JSON array of them (what the Python SDK posts)",
)


def unpack(body: Any, route: DialectRoute) -> Unpacked:
    if isinstance(body, dict):
        return Unpacked([body], many=False)
    if isinstance(body, list):
        if not body:
            raise GatewayError("the body is an empty array: send one event or an array of events",
                               code="no_events")
        return Unpacked(body, many=True)
    raise GatewayError("the body must be an event object or an array of event objects",
                       code="invalid_body")


def credentials(settings: Mapping[str, Any]) -> list[str]:
    return [settings["write_key"]]


def generate_credentials() -> dict[str, str]:
    return {"write_key": secrets.token_urlsafe(32)}


def _messages(body: dict[str, Any]) -> list[str]:
    """Each problem as a sentence: one per refused event when a whole array was refused."""
    detail = body.get("detail")
    rejected = detail.get("rejected") if isinstance(detail, dict) else None
    if isinstance(rejected, list) and rejected:
        return [f"event {r.get('index')}: {r.get('message')}" if isinstance(r, dict) else str(r)
                for r in rejected]
    return [str(body.get("message", ""))]


def error_body(body: dict[str, Any], error: GatewayError) -> dict[str, Any]:
    """Filum answers errors with their messages and status code; the SDK reads code and message."""
    return {**body, "status_code": error.status, "messages": _messages(body)}


FILUM = Dialect(
    name="filum",
    routes=(ROUTE,),
    auth=("bearer",),
    item_schema=item_schema(),
    unpack=unpack,
    map=map_event,
    credentials=credentials,
    generate_credentials=generate_credentials,
    source_schema={
        "properties": {"write_key": {"type": "string", "minLength": 1}},
        "required": ["write_key"],
    },
    error_body=error_body,
    description="Filum Event API (POST /events, Bearer write key): identify and track with typed params",
)
