"""The canonical event: Segment's spec, which every dialect maps to.

The JSON Schema in ``schemas/canonical_event.schema.json`` is the normative form; this typed
dict is its shape in code. Events stay plain dicts on the hot path (no per-event objects).
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

EventType = Literal["track", "identify", "page", "screen", "group", "alias"]
EVENT_TYPES: tuple[str, ...] = ("track", "identify", "page", "screen", "group", "alias")


class SourceRef(TypedDict):
    id: str
    name: str
    dialect: str


class CanonicalEvent(TypedDict, total=False):
    messageId: str
    type: EventType
    event: str
    name: str
    userId: str
    anonymousId: str
    previousId: str
    groupId: str
    properties: dict[str, Any]
    traits: dict[str, Any]
    context: dict[str, Any]
    integrations: dict[str, Any]
    timestamp: str
    originalTimestamp: str
    sentAt: str
    receivedAt: str
    source: SourceRef
