"""One PostHog event -> one canonical event (the README's table is the contract)."""

from __future__ import annotations

from typing import Any

from gateway import CanonicalEvent, InvalidEvent, ItemContext

# PostHog's special events and the canonical types they become; every other event is a track.
TYPES = {"$identify": "identify", "$set": "identify", "$set_once": "identify", "$pageview": "page", "$screen": "screen",
         "$groupidentify": "group", "$create_alias": "alias"}
# Properties the mapping moves elsewhere (ids, traits, the library), so they are not kept twice.
_MOVED = ("distinct_id", "$set", "$set_once", "$lib", "$lib_version", "$group_type", "$group_key",
          "$group_set", "alias", "$anon_distinct_id")


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def map_event(item: dict[str, Any], ctx: ItemContext) -> list[CanonicalEvent]:
    props: dict[str, Any] = dict(item.get("properties") or {})
    distinct_id = _text(item.get("distinct_id")) or _text(props.get("distinct_id"))
    if distinct_id is None:
        raise InvalidEvent("distinct_id is required (in the event or in its properties)", field="distinct_id")
    name = item["event"]
    kind = TYPES.get(name, "track")
    event: CanonicalEvent = {"type": kind, "userId": distinct_id}  # type: ignore[typeddict-item]
    anonymous = _text(props.get("$anon_distinct_id"))
    if anonymous:
        event["anonymousId"] = anonymous
    traits = {**(props.get("$set_once") or {}), **(item.get("$set_once") or {}),
              **(props.get("$set") or {}), **(item.get("$set") or {})}
    if kind == "identify":
        event["traits"] = traits
    elif traits:
        event["context"] = {"traits": traits}
    if kind == "track":
        event["event"] = name
    elif kind == "page":
        page = _text(props.get("title")) or _text(props.get("$pathname")) or _text(props.get("$current_url"))
        if page:
            event["name"] = page
    elif kind == "screen":
        screen = _text(props.get("$screen_name"))
        if screen:
            event["name"] = screen
    elif kind == "group":
        group_key = _text(props.get("$group_key"))
        if group_key is None:
            raise InvalidEvent("properties.$group_key is required for $groupidentify",
                               field="properties.$group_key")
        event["groupId"] = group_key
        event["traits"] = {**(props.get("$group_set") or {}),
                           **({"group_type": props["$group_type"]} if props.get("$group_type") else {})}
    elif kind == "alias":
        alias = _text(props.get("alias"))
        if alias is None:
            raise InvalidEvent("properties.alias is required for $create_alias", field="properties.alias")
        # The event is sent as the previous id; ``alias`` is the id it becomes (both SDKs).
        event["previousId"], event["userId"] = distinct_id, alias
    kept = {k: v for k, v in props.items() if k not in _MOVED}
    if kind in ("track", "page", "screen") and kept:
        event["properties"] = kept
    elif kept:
        event.setdefault("context", {})["posthog"] = kept
    if props.get("$lib"):
        library = {"name": props["$lib"], **({"version": props["$lib_version"]} if props.get("$lib_version") else {})}
        event.setdefault("context", {})["library"] = library
    if _text(item.get("uuid")):
        event["messageId"] = str(item["uuid"])
    if _text(item.get("timestamp")):
        event["timestamp"] = item["timestamp"]
    # The time the client sent: the event's own, else the request's (a batch-level field).
    sent_at = _text(item.get("sent_at")) or _text(ctx.batch.get("sent_at")) or _text(ctx.batch.get("sentAt"))
    if sent_at and event.get("timestamp"):
        event["sentAt"] = sent_at
    return [event]
