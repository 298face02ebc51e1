"""One Usermaven event -> canonical events. The plugin README documents every field's destination."""

from __future__ import annotations

import hmac
from typing import Any, cast

from gateway import CanonicalEvent, Forbidden, InvalidEvent, ItemContext, from_epoch_millis

from .context import build_context

IDENTIFY = "user_identify"

# Usermaven's fixed user and company fields -> Segment's reserved trait names.
USER_TRAITS = {
    "email": "email", "created_at": "createdAt", "first_name": "firstName", "last_name": "lastName",
}
COMPANY_TRAITS = {"name": "name", "created_at": "createdAt"}


def iso_millis(ms: int, field: str = "_timestamp") -> str:
    """UTC milliseconds since the epoch -> ``2021-09-20T15:02:02.000Z`` (integer arithmetic: exact)."""
    moment = from_epoch_millis(ms, field)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def id_string(value: str | int | float) -> str:
    """Ids may be sent as numbers; 42 and 42.0 name the same user, so both become "42"."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def traits_of(
    obj: dict[str, Any], renames: dict[str, str], skip: frozenset[str]
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The object's fields under trait names with ``custom`` merged in, the named fields winning.

    When a custom key loses such a clash, ``custom`` itself is returned too, to be kept as sent.
    """
    custom = obj.get("custom") or {}
    own = {
        _trait_name(key, renames, obj): value
        for key, value in obj.items()
        if key not in skip and key != "custom" and value is not None
    }
    clash = any(key in own and own[key] != value for key, value in custom.items())
    return {**custom, **own}, (custom if clash else None)


def _trait_name(key: str, renames: dict[str, str], obj: dict[str, Any]) -> str:
    # A sender that set both created_at and createdAt keeps both rather than one overwriting the other.
    name = renames.get(key, key)
    return name if name == key or name not in obj else key


def _check_api_key(item: dict[str, Any], ctx: ItemContext) -> None:
    expected = str(ctx.source.settings.get("api_key", ""))
    if not hmac.compare_digest(item["api_key"].encode(), expected.encode()):
        raise Forbidden(
            f"api_key of the event at index {ctx.index} is not the api_key of the token's source",
            code="api_key_mismatch",
        )


def _identity(user: dict[str, Any]) -> dict[str, Any]:
    identity: dict[str, Any] = {}
    if user.get("id") not in (None, ""):
        identity["userId"] = id_string(user["id"])
    if user.get("anonymous_id"):
        identity["anonymousId"] = user["anonymous_id"]
    if not identity:
        raise InvalidEvent("user needs an id or an anonymous_id", field="user")
    return identity


def _company_id(company: dict[str, Any]) -> str:
    group_id = id_string(company["id"])
    if not group_id:
        raise InvalidEvent("company.id must not be empty", field="company.id")
    return group_id


def _kept(context: dict[str, Any]) -> dict[str, Any]:
    kept: dict[str, Any] = context.setdefault("usermaven", {})
    return kept


def map_event(item: dict[str, Any], ctx: ItemContext) -> list[CanonicalEvent]:
    """Map one schema-valid Usermaven event: an identify (plus a group with a company) or a track."""
    _check_api_key(item, ctx)
    user: dict[str, Any] = item["user"]
    company: dict[str, Any] | None = item.get("company") or None
    common: dict[str, Any] = _identity(user)
    if item.get("_timestamp") is not None:
        common["timestamp"] = iso_millis(int(item["_timestamp"]))
    event_id = item.get("event_id") or None
    group_id = _company_id(company) if company else None
    user_traits, user_custom = traits_of(user, USER_TRAITS, frozenset({"id", "anonymous_id"}))

    context = build_context(item)
    if group_id is not None:
        context["groupId"] = group_id
    if user_custom is not None:
        _kept(context)["user"] = {"custom": user_custom}

    if item["event_type"] != IDENTIFY:
        if user_traits:
            context["traits"] = user_traits
        if company:
            _kept(context)["company"] = company
        track: dict[str, Any] = {
            "type": "track", "event": item["event_type"], **common,
            "properties": item.get("event_attributes") or {}, "context": context,
        }
        if event_id:
            track["messageId"] = event_id
        return [cast(CanonicalEvent, track)]

    if item.get("event_attributes") is not None:
        _kept(context)["event_attributes"] = item["event_attributes"]
    identify: dict[str, Any] = {"type": "identify", **common, "traits": user_traits, "context": context}
    if event_id:
        identify["messageId"] = event_id
    events = [identify]
    if company and group_id is not None:
        events.append(_group(item, company, group_id, common, event_id))
    return cast(list[CanonicalEvent], events)


def _group(item: dict[str, Any], company: dict[str, Any], group_id: str, common: dict[str, Any],
           event_id: str | None) -> dict[str, Any]:
    """The group event an identify with a company also yields."""
    traits, custom = traits_of(company, COMPANY_TRAITS, frozenset({"id"}))
    context = build_context(item)
    if custom is not None:
        _kept(context)["company"] = {"custom": custom}
    group: dict[str, Any] = {"type": "group", "groupId": group_id, **common, "traits": traits,
                             "context": context}
    if event_id:
        # Derived, not random, so a redelivered request keeps its messageIds (idempotent sinks).
        group["messageId"] = f"{event_id}:group"
    return group
