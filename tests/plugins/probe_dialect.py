"""A test-only dialect that accepts every auth style, for testing the core without a vendor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway import Dialect, DialectRoute, GatewayError, InvalidEvent, ItemContext, Unpacked, hookimpl

ITEM_SCHEMA = {
    "type": "object",
    "required": ["event"],
    "properties": {
        "event": {"type": "string", "minLength": 1},
        "userId": {"type": ["string", "null"]},
        "messageId": {"type": "string"},
        "properties": {"type": "object"},
        "context": {"type": "object"},
        "timestamp": {"type": "string"},
        "sentAt": {"type": "string"},
    },
}


def unpack(body: Any, route: DialectRoute) -> Unpacked:
    if route.kind == "batch":
        if not isinstance(body, dict) or not isinstance(body.get("batch"), list):
            raise GatewayError("batch must be an array", code="invalid_batch")
        return Unpacked(body["batch"], True, "batch")
    return Unpacked([body], False)


def map_item(item: dict[str, Any], ctx: ItemContext) -> list[dict[str, Any]]:
    if item.get("event") == "forbidden-word":
        raise InvalidEvent("event may not be forbidden-word", field="event")
    return [{"type": "track", **item}]


@hookimpl
def register_dialects(register: Callable[[Dialect], None]) -> None:
    register(Dialect(
        name="probe",
        routes=[DialectRoute("/probe/track", kind="track"), DialectRoute("/probe/batch", kind="batch")],
        auth=("basic", "bearer", "query_token", "body_write_key"),
        body_key_fields=("writeKey",),
        item_schema=ITEM_SCHEMA,
        source_schema={"properties": {"write_key": {"type": "string", "minLength": 8}}, "required": ["write_key"]},
        unpack=unpack,
        map=map_item,
        credentials=lambda settings: [settings["write_key"]],
        max_event_bytes=2048,
        max_request_bytes=64 * 1024,
    ))


