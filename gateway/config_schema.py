"""JSON Schemas of the core's own config tables and of the keys every source and sink shares."""

from __future__ import annotations

from typing import Any

# A browser origin as the Origin header spells it: scheme://host[:port], or "null" (sandboxed pages).
ORIGIN = {"type": "string", "pattern": "^(null|https?://[^/\\s]+/?)$"}
NAME = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
        "x-expected": "1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit"}
POSITIVE_INT = {"type": "integer", "minimum": 1}
SECONDS = {"type": "number", "minimum": 0}

SERVER: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "host": {"type": "string", "minLength": 1},
        "port": {"type": "integer", "minimum": 0, "maximum": 65535},
        "workers": POSITIVE_INT,
        "engine": {"enum": ["hypercorn", "uvicorn"]},
        "trusted_proxies": {"type": "array", "items": {"type": "string"}},
        "body_timeout_seconds": {"type": "number", "exclusiveMinimum": 0},
        "keep_alive_seconds": {"type": "number", "exclusiveMinimum": 0},
        "graceful_timeout_seconds": SECONDS,
        "cors_origins": {"type": "array", "items": {"anyOf": [{"const": "*"}, ORIGIN]}},
        "max_inflight_bytes": POSITIVE_INT,
    },
}

STORAGE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "url": {"type": "string", "minLength": 1},
        "synchronous": {"enum": ["OFF", "NORMAL", "FULL", "EXTRA"]},
        "group_commit_max_events": POSITIVE_INT,
        "retention_hours": SECONDS,
        "unavailable_after_seconds": {"type": "number", "exclusiveMinimum": 0},
        "partitions": {"type": "integer", "minimum": 1, "maximum": 1024},
    },
}

DELIVERY: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "workers": {"type": "integer", "minimum": 0, "maximum": 64},
        "lease_seconds": {"type": "number", "minimum": 1},
        "stuck_after_seconds": {"type": "number", "exclusiveMinimum": 0},
        "deliver_timeout_seconds": {"type": "number", "exclusiveMinimum": 0},
        "prune_every_seconds": {"type": "number", "exclusiveMinimum": 0},
    },
}

ADMIN: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"api_key": {"type": "string"}},
}

TOP: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "plugins_dir": {"type": "string"},
        "server": {"type": "object"},
        "storage": {"type": "object"},
        "admin": {"type": "object"},
        "delivery": {"type": "object"},
        "sources": {"type": "array", "items": {"type": "object"}},
        "sinks": {"type": "array", "items": {"type": "object"}},
    },
}

SOURCE_COMMON: dict[str, Any] = {
    "name": NAME,
    "dialect": {"type": "string"},
    "batch_mode": {"enum": ["partial", "atomic"]},
    "max_event_bytes": POSITIVE_INT,
    "max_request_bytes": POSITIVE_INT,
    "max_events_per_request": POSITIVE_INT,
    "rate_limit_per_second": {"type": "number", "exclusiveMinimum": 0},
    "rate_limit_burst": POSITIVE_INT,
    "allowed_origins": {"type": "array", "items": ORIGIN},
}

SINK_COMMON: dict[str, Any] = {
    "name": NAME,
    "type": {"type": "string"},
    "events": {"type": "array", "items": {"type": "string", "minLength": 1}},
    "start": {"enum": ["beginning", "now"]},
    "batch_max_events": POSITIVE_INT,
    "batch_max_seconds": SECONDS,
    "retry_initial_seconds": {"type": "number", "exclusiveMinimum": 0},
    "retry_max_seconds": {"type": "number", "exclusiveMinimum": 0},
    "retry_for_seconds": {"type": "number", "exclusiveMinimum": 0},
}

SINK_DEFAULTS: dict[str, Any] = {"start": "beginning", "batch_max_events": 1000, "batch_max_seconds": 0}


def merged(common: dict[str, Any], own: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """A closed object schema: the core's common keys plus a plugin's own, so typos are caught.

    Other keywords of the plugin's schema (``allOf``, ``if``/``then``: keys that need each other)
    are kept as they are."""
    rest = {k: v for k, v in own.items() if k not in ("properties", "required")}
    return {
        **rest,
        "type": "object",
        "additionalProperties": False,
        "properties": {**common, **own.get("properties", {})},
        "required": [*required, *own.get("required", [])],
    }
