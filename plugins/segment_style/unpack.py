"""Opening a request body: one event on a typed route, or ``{"batch": [...]}`` on batch and import."""

from __future__ import annotations

from typing import Any

from gateway import DialectRoute, GatewayError, Unpacked

from .routes import PIXEL_PREFIX, SINGLE_TYPES

# Batch-level fields an item inherits when it lacks them (Segment's batch semantics).
INHERITED = ("context", "integrations", "sentAt")
KEY_FIELD = "writeKey"


def unpack(body: Any, route: DialectRoute) -> Unpacked:
    kind = str(route.kind)
    if kind in ("batch", "import"):
        return Unpacked(_batch_items(body, route.path), many=True, path="batch")
    if kind.startswith(PIXEL_PREFIX):
        return Unpacked([_single_item(from_query(body), kind[len(PIXEL_PREFIX):], route.path)], many=False)
    return Unpacked([_single_item(body, kind, route.path)], many=False)


def from_query(params: dict[str, str]) -> dict[str, Any]:
    """RudderStack's pixel API: dotted parameter names are paths (``context.page.url=...``)."""
    event: dict[str, Any] = {}
    for name, value in params.items():
        parts = name.split(".")
        if not all(parts):
            raise GatewayError(f"query parameter {name[:100]!r} is not a field path", code="invalid_query",
                               detail={"field": name[:100]})
        node = event
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        if not isinstance(node.get(parts[-1]), dict):  # "a.b=1&a=2": the object wins, order aside
            node[parts[-1]] = value
    return event


def _sibling(path: str, leaf: str) -> str:
    return f"{path.rstrip('/').rpartition('/')[0]}/{leaf}"


def _single_item(body: Any, kind: str, path: str) -> Any:
    if not isinstance(body, dict):
        return body  # the item schema answers with "must be an object"
    if isinstance(body.get("batch"), list) and "type" not in body:
        batch_path = _sibling(path, "batch")
        raise GatewayError(f'this looks like a batch ({{"batch": [...]}}): POST it to {batch_path}',
                           code="wrong_route", detail={"field": "batch", "expected": batch_path})
    sent = body.get("type")
    if sent is not None and sent != kind:
        found = repr(sent[:64]) if isinstance(sent, str) else _kind(sent)
        raise GatewayError(f"type is {found} but this route takes {kind!r} events; "
                           "post the event to its own type's route, or to batch",
                           code="type_mismatch", detail={"field": "type", "expected": kind, "found": found})
    body["type"] = kind
    return body


def _batch_items(body: Any, path: str) -> list[Any]:
    items = body.get("batch") if isinstance(body, dict) else None
    if items is None and isinstance(body, dict) and body.get("type") in SINGLE_TYPES:
        kind = str(body["type"])
        raise GatewayError(f'this looks like one {kind} event: POST it to {_sibling(path, kind)}, '
                           'or wrap it here as {"batch": [event]}', code="wrong_route",
                           detail={"field": "batch", "expected": _sibling(path, kind)})
    if not isinstance(items, list):
        if not isinstance(body, dict):
            found = f"the body is {_kind(body)}"
        else:
            found = "no batch" if items is None else f"batch is {_kind(items)}"
        raise GatewayError(f'the body must be {{"batch": [event, ...]}}; found {found}',
                           code="invalid_batch", detail={"field": "batch"})
    if not items:
        raise GatewayError("batch holds no events", code="empty_batch", detail={"field": "batch"})
    inherited = {key: body[key] for key in INHERITED if body.get(key) is not None}
    for item in items:
        if not isinstance(item, dict):
            continue  # the item schema names it, with its index
        # The core removes the body's key; one repeated inside an item must not be stored either.
        item.pop(KEY_FIELD, None)
        for key, value in inherited.items():
            if item.get(key) is None:
                # A copy per item: the core adds context.ip to each event's own context.
                item[key] = dict(value) if isinstance(value, dict) else value
    return items


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number",
             float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)

