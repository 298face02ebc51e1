"""One Segment-style event -> one canonical event. Segment's names are the canonical names, so
fields pass through; the README in this folder lists the few that change."""

from __future__ import annotations

from typing import Any, cast

from gateway import CanonicalEvent, InvalidEvent, ItemContext

ID_FIELDS = ("userId", "anonymousId", "previousId", "groupId", "messageId")
# What each type needs unless a source's required_fields says otherwise (Segment's own rules).
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {"track": ("event",), "group": ("groupId",),
                                               "alias": ("previousId", "userId")}


def id_string(value: Any) -> str:
    """Clients may send ids as numbers; 42 and 42.0 name the same user, so both become "42"."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def map_event(item: dict[str, Any], ctx: ItemContext) -> list[CanonicalEvent]:
    # Nulls mean "not set" in every Segment SDK; dropping them here keeps the checks below simple.
    event = {key: value for key, value in item.items() if value is not None}
    _check_required(item, ctx)
    for key in ID_FIELDS:
        value = event.get(key)
        if value is not None and not isinstance(value, str):
            event[key] = id_string(value)
    if not (event.get("userId") or event.get("anonymousId")) and ctx.source.get("require_identity", True):
        raise InvalidEvent("userId or anonymousId is required: an event must name its user "
                           "(a source may set require_identity = false to accept such events)",
                           field="userId", code="missing_identity")
    if event["type"] == "identify":
        _lift_context_traits(event)
    return [cast(CanonicalEvent, event)]


def _check_required(item: dict[str, Any], ctx: ItemContext) -> None:
    kind = item["type"]
    custom = ctx.source.get("required_fields")
    fields = custom[kind] if custom and kind in custom else REQUIRED_FIELDS.get(kind, ())
    for name in fields:
        value = item.get(name)
        if name not in item:
            raise InvalidEvent(f"{name} is required", field=name)
        if value is None:
            raise InvalidEvent(f"{name} must be a string{'' if name == 'event' else ' or number'}, not null",
                               field=name)
        if value == "":
            raise InvalidEvent(f"{name} must be non-empty", field=name)


def _lift_context_traits(event: dict[str, Any]) -> None:
    """RudderStack's SDKs send identify traits only in ``context.traits``; canonical identify has them in
    ``traits``. Context stays as sent; a key in both keeps the top-level value."""
    context = event.get("context")
    context_traits = context.get("traits") if isinstance(context, dict) else None
    if context_traits:
        event["traits"] = {**context_traits, **event.get("traits", {})}
