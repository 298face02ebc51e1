"""One Filum event -> one canonical event."""

from __future__ import annotations

from typing import Any

from gateway import CanonicalEvent, InvalidEvent, ItemContext

from .params import decode_params
from .times import to_utc_iso

# Top-level keys the mapping consumes. Anything else a client sends (the SDK's ``origin``, say)
# is kept under ``context.filum`` rather than lost.
_CONSUMED = frozenset({
    "event_type", "event_name", "user_id", "anonymous_id", "event_id", "context", "event_params",
    "timestamp", "original_timestamp", "sent_at",
    # The SDK stamps this when it builds the event; the gateway's own receivedAt supersedes it.
    "received_at",
})

# What identify calls carry as their name; any other name is kept, since identify has no slot for it.
_IDENTIFY_NAME = "Identify"


def _time(item: dict[str, Any], key: str) -> str | None:
    """The client's time as sent (the core keeps it as originalTimestamp), once known to be one."""
    text = item.get(key)
    if text is not None:
        to_utc_iso(text, key)  # raises naming the key, also for a time UTC cannot hold
    return text


def _context(item: dict[str, Any]) -> dict[str, Any]:
    context = dict(item.get("context") or {})
    # The SDK always sends "ip": ""; an empty ip says nothing, and dropping it lets the core stamp one.
    if context.get("ip") == "":
        del context["ip"]
    leftovers = {k: v for k, v in item.items() if k not in _CONSUMED and v is not None}
    if item["event_type"] == "identify" and item["event_name"] != _IDENTIFY_NAME:
        leftovers["event_name"] = item["event_name"]
    if leftovers:
        own = context.get("filum")
        context["filum"] = {**(own if isinstance(own, dict) else {}), **leftovers}
    return context


def map_event(item: dict[str, Any], ctx: ItemContext | None = None) -> list[CanonicalEvent]:
    """Map one schema-valid Filum event; raise InvalidEvent for what the schema cannot check."""
    user_id, anonymous_id = item.get("user_id"), item.get("anonymous_id")
    if not user_id and not anonymous_id:
        raise InvalidEvent("user_id or anonymous_id is required (a non-empty string)", field="user_id")
    values = decode_params(item.get("event_params"))
    event: CanonicalEvent = {"type": "track" if item["event_type"] == "track" else "identify"}
    if event["type"] == "track":
        event["event"] = item["event_name"]
        event["properties"] = values
    else:
        event["traits"] = values
    if user_id:
        event["userId"] = user_id
    if anonymous_id:
        event["anonymousId"] = anonymous_id
    if item.get("event_id"):
        event["messageId"] = item["event_id"]
    # The SDK's original_timestamp is when it was called; timestamp overrides it for past events.
    original = _time(item, "original_timestamp")
    _time(item, "received_at")  # unused, but a malformed one is as wrong as any other time
    timestamp = _time(item, "timestamp") or original
    if timestamp is not None:
        event["timestamp"] = timestamp
    sent_at = _time(item, "sent_at")
    if sent_at is not None:
        event["sentAt"] = sent_at
    context = _context(item)
    if context:
        event["context"] = context
    return [event]
