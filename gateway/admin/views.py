"""What the sources API shows: a source, its status, an event and a rejection as JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from gateway.admin.keys import hint, masked_settings
from gateway.auth import key_locations
from gateway.dialects import Dialect
from gateway.sources import Source

if TYPE_CHECKING:
    from gateway.admin.store import Record

CONNECTED = "connected"
NO_ACTIVITY = "no activity"
NOT_CONNECTED_MESSAGE = ("The source is not connected: no event has arrived yet. Check that the app sends to "
                         "this gateway's address with this source's key.")


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def status_json(source: Source, stats: Any) -> dict[str, Any]:
    """The connection check: connected once an event was committed, with what helps when it is not."""
    last_event_at = stats.last_event_at if stats is not None else None
    rejected = int(stats.rejected_total) if stats is not None else 0
    last_error = stats.last_error if stats is not None else None
    if last_event_at is not None:
        status, message = CONNECTED, f"Connected: the last event arrived at {iso(last_event_at)}."
    elif rejected:
        status = NO_ACTIVITY
        message = f"Requests arrived but all {rejected} of their events were rejected; the last reason: {last_error}"
    else:
        status, message = NO_ACTIVITY, NOT_CONNECTED_MESSAGE
    return {"name": source.name, "status": status, "connected": status == CONNECTED,
            "last_event_at": iso(last_event_at), "message": message}


def endpoints_json(dialect: Dialect) -> list[dict[str, Any]]:
    return [{"path": r.path, "methods": list(r.methods), "summary": r.summary} for r in dialect.routes]


def source_json(source: Source, dialect: Dialect, record: Record | None, stats: Any,
                events_24h: int) -> dict[str, Any]:
    """Everything about a source but its secrets, which show as their last characters."""
    keys = dialect.credentials(source.settings)
    out: dict[str, Any] = {
        "name": source.name,
        "id": source.id,
        "dialect": source.dialect,
        "origin": source.origin,
        "read_only": record is None,
        **{k: v for k, v in status_json(source, stats).items() if k != "name"},
        "events_total": int(stats.events_total) if stats is not None else 0,
        "events_24h": events_24h,
        "rejected_total": int(stats.rejected_total) if stats is not None else 0,
        "last_error": stats.last_error if stats is not None else None,
        "last_error_at": iso(stats.last_error_at) if stats is not None else None,
        "key_hint": hint(keys[0]) if keys else None,
        "send_key": key_locations(dialect).how_to_send(),
        "settings": masked_settings(source.settings, dialect),
        "endpoints": endpoints_json(dialect),
        "created_at": iso(record.created_at) if record is not None else None,
    }
    if record is not None and record.retired_keys:
        out["previous_keys"] = [{"key_hint": hint(k), "expires_at": iso(t)} for k, t in record.retired_keys]
    return out


def _json_or_text(data: bytes | None) -> Any:
    """Stored JSON, to go into an answer as the bytes it is (``orjson.Fragment``), else as text.

    Not parsed and written again: an item nested nearly as deep as orjson writes (it was stored,
    so it was written once) would pass that depth inside the answer's own objects and fail it.
    """
    if data is None:
        return None
    try:
        orjson.loads(data)  # only to tell JSON from a payload cut at the storage limit
    except orjson.JSONDecodeError:
        return data.decode("utf-8", "replace")
    return orjson.Fragment(data)


def event_json(row: Any) -> dict[str, Any]:
    """A logged event: the canonical event and, as ``raw``, the item the client sent."""
    return {"seq": int(row.seq), "received_at": iso(row.received_at), "event": orjson.Fragment(row.event),
            "raw": _json_or_text(row.raw)}


def rejection_json(row: Any) -> dict[str, Any]:
    return {"id": int(row.id), "received_at": iso(row.received_at), "index": row.item_index, "code": row.code,
            "reason": row.reason, "field": row.field, "payload": _json_or_text(row.payload)}


def dialect_json(dialect: Dialect) -> dict[str, Any]:
    schema = dict(dialect.source_schema)
    return {"name": dialect.name, "description": dialect.description, "auth": list(dialect.auth),
            "send_key": key_locations(dialect).how_to_send(), "endpoints": endpoints_json(dialect),
            "settings": schema.get("properties", {}), "required": schema.get("required", [])}
