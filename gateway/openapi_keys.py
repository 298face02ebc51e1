"""Where a route's clients may put their key, in the OpenAPI document's terms.

The places are the auth service's own (``gateway.auth.key_locations``), so the document names
exactly what is read: HTTP Basic and Bearer, the key header and each query parameter as security
schemes (any one of them suffices), and each body field path as a string field of the request
body schema, nested (``properties.token``) and inside the events of a batch (``batch.api_key``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from gateway.auth import KeyLocations

Schema = dict[str, Any]
STATIC_SCHEMES: Schema = {
    "basic": {"type": "http", "scheme": "basic", "description": "The source's key as the user name, no password"},
    "bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <the source's key>"},
}
KEY_FIELD: Schema = {"type": "string", "description": "the source's key (one of the places it may be sent)"}


def _scheme_name(kind: str, name: str) -> str:
    return f"{kind}_{re.sub(r'[^A-Za-z0-9._-]', '_', name)}"


def security(keys: KeyLocations, schemes: Schema) -> list[dict[str, list[str]]]:
    """The route's security requirements, one alternative per place, in the order the styles are
    tried; the schemes they use are added to ``schemes``. A key the body may carry adds the empty
    alternative: no header or query parameter is needed then."""
    alternatives: list[dict[str, list[str]]] = []
    for style in keys.header_styles:
        if style in STATIC_SCHEMES:
            schemes.setdefault(style, STATIC_SCHEMES[style])
            alternatives.append({style: []})
        elif style == "header" and keys.header:
            name = _scheme_name("header", keys.header)
            schemes[name] = {"type": "apiKey", "in": "header", "name": keys.header,
                             "description": f"{keys.header}: <the source's key>"}
            alternatives.append({name: []})
        elif style == "query_token":
            for param in keys.query_params:
                name = "query_token" if param == "token" else _scheme_name("query", param)
                schemes[name] = {"type": "apiKey", "in": "query", "name": param,
                                 "description": f"?{param}=<the source's key>"}
                alternatives.append({name: []})
    if body_paths(keys):
        alternatives.append({})
    return alternatives


def body_paths(keys: KeyLocations) -> list[list[str]]:
    """The body field paths the route reads a key from, split at the dots (none unless the route's
    styles include ``body_write_key``: elsewhere the fields are only removed, never a key)."""
    return [list(path) for path in keys.body_paths] if keys.in_body else []


def key_fields(paths: Iterable[Sequence[str]]) -> Schema | None:
    """A schema naming the end of each path a string key field, through nested objects, or None."""
    root: Schema = {}
    for path in paths:
        if not path:
            continue
        node = root
        for part in path[:-1]:
            node = node.setdefault("properties", {}).setdefault(part, {})
        node.setdefault("properties", {})[path[-1]] = dict(KEY_FIELD)
    return root or None


def with_key_fields(schema: Schema, paths: Iterable[Sequence[str]]) -> Schema:
    """``schema`` that may also carry the key at ``paths``."""
    keys = key_fields(paths)
    return {"allOf": [schema, keys]} if keys else schema
