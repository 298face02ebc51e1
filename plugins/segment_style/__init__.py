"""Segment's HTTP tracking API as Segment, RudderStack and DIDWW messaging clients speak it.

Apps switch by changing only the host: the same paths (``/v1/...`` and ``/analytics/v1/...``), the
write key as HTTP Basic user name or as ``writeKey`` in the body, the same bodies. Routes are in
``routes.py``, the envelope in ``unpack.py``, the mapping in ``mapping.py``; the README in this
folder is the field-by-field contract.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping
from importlib.resources import files
from typing import Any

from gateway import Dialect, PluginRoute, hookimpl

from .mapping import map_event
from .routes import ROUTES, SINGLE_TYPES
from .unpack import KEY_FIELD, unpack

ITEM_SCHEMA: dict[str, Any] = json.loads(files(__name__).joinpath("event.schema.json").read_text("utf-8"))

SOURCE_SCHEMA: dict[str, Any] = {
    "properties": {
        "write_key": {"type": "string", "minLength": 1, "description": "The key clients send"},
        "require_identity": {
            "type": "boolean",
            "default": True,
            "description": "Refuse events that carry neither userId nor anonymousId (RudderStack does)",
        },
        "required_fields": {
            "type": "object",
            "additionalProperties": False,
            "properties": {kind: {"type": "array", "items": {"type": "string", "minLength": 1}, "uniqueItems": True}
                           for kind in SINGLE_TYPES},
            "description": "Per type, the fields an event must carry; a type listed replaces its default "
                           "(track: event; group: groupId; alias: previousId, userId)",
        },
    },
    "required": ["write_key"],
}


def credentials(settings: Mapping[str, Any]) -> list[str]:
    return [settings["write_key"]]


def generate_credentials() -> dict[str, str]:
    # URL-safe and without ":", which would end the user name of HTTP Basic credentials.
    return {"write_key": secrets.token_urlsafe(24)}


DIALECT = Dialect(
    name="segment_style",
    routes=ROUTES,
    # Segment and RudderStack SDKs use Basic; DIDWW messaging's clients put the key in the body.
    auth=("basic", "body_write_key"),
    body_key_fields=(KEY_FIELD,),
    item_schema=ITEM_SCHEMA,
    unpack=unpack,
    map=map_event,
    credentials=credentials,
    source_schema=SOURCE_SCHEMA,
    generate_credentials=generate_credentials,
    # RudderStack's documented limits, which Segment's SDKs also stay within.
    max_event_bytes=32 * 1024,
    max_request_bytes=4 * 1024 * 1024,
    description="Segment-style tracking API (POST /v1/{track,identify,page,screen,group,alias,batch,import}, "
                "also under /analytics/v1/)",
)


@hookimpl
def register_dialects(register: Callable[[Dialect], None]) -> None:
    register(DIALECT)


@hookimpl
def register_routes(register: Callable[[PluginRoute], None]) -> None:
    # Imported here: the settings endpoints need Starlette, which `gateway check` never loads.
    from .settings import SETTINGS_ROUTES

    for route in SETTINGS_ROUTES:
        register(route)
