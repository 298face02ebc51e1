"""The OpenAPI document served at ``/openapi.json``, built once at start-up from the mounted routes.

Ingestion operations come from the dialects (routes, auth styles, item schemas, answer shapes),
the others from the route table (plugin routes' summaries, endpoint docstrings, the admin key
guard). Nothing here names a dialect: what a body looks like is found by asking the dialect's
own ``unpack`` about small probe bodies, so the document cannot drift from what is served.
"""

from __future__ import annotations

import copy
import importlib.metadata
import re
from collections.abc import Sequence
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from gateway import openapi_keys
from gateway.auth import key_locations
from gateway.dialects import Dialect, DialectRoute, IngestResult
from gateway.errors import GatewayError
from gateway.ingest import IngestEndpoint
from gateway.routes import PluginRoute

Schema = dict[str, Any]
ERROR = "#/components/schemas/Error"
ERROR_SCHEMA: Schema = {
    "type": "object", "required": ["code", "message", "detail"],
    "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "detail": {}},
}
SECURITY_SCHEMES: Schema = {
    "admin": {"type": "http", "scheme": "bearer", "description": "The [admin] api_key (also accepted bare)"},
}
INGEST_ERRORS = {400: "invalid JSON, gzip, envelope or event (the message names the field)",
                 401: "missing or unknown key", 403: "the key may not send this", 408: "body too slow",
                 413: "a size limit exceeded", 415: "unsupported Content-Encoding",
                 429: "over the source's rate limit", 503: "events cannot be stored now"}
RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}}
_JSON_TYPES = {str: "string", bool: "boolean", int: "integer", float: "number", list: "array", dict: "object"}


def _local_refs(node: Any, prefix: str) -> Any:
    """Point a schema's own ``#/definitions/x`` (or ``$defs``) refs at their hoisted components."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        out = {k: _local_refs(v, prefix) for k, v in node.items()}
        if isinstance(ref, str) and (match := re.fullmatch(r"#/(?:definitions|\$defs)/(.+)", ref)):
            out["$ref"] = f"#/components/schemas/{prefix}.{match.group(1)}"
        return out
    if isinstance(node, list):
        return [_local_refs(v, prefix) for v in node]
    return node


class Builder:
    def __init__(self) -> None:
        self.security_schemes: Schema = dict(SECURITY_SCHEMES)
        self.schemas: dict[str, Schema] = {"Error": ERROR_SCHEMA}
        self.paths: dict[str, dict[str, Any]] = {}

    def component(self, name: str, schema: Schema) -> Schema:
        self.schemas.setdefault(name, schema)
        return {"$ref": f"#/components/schemas/{name}"}

    def item_schema(self, dialect: Dialect) -> Schema:
        schema = copy.deepcopy(dict(dialect.item_schema))
        for key in ("definitions", "$defs"):
            for name, sub in schema.pop(key, {}).items():
                self.schemas[f"{dialect.name}.{name}"] = _local_refs(sub, dialect.name)
        schema.pop("$schema", None)
        schema.pop("$id", None)
        return _local_refs(schema, dialect.name)

    # -- ingestion -----------------------------------------------------------------------------
    def ingest(self, dialect: Dialect, route: DialectRoute) -> dict[str, Any]:
        item = self.item_schema(dialect)
        keys = key_locations(dialect, route)
        paths = openapi_keys.body_paths(keys)
        envelopes = _envelopes(dialect, route, {p[0] for p in paths if len(p) > 1})
        wrappers = {extra for kind, extra in envelopes if kind == "wrapped"}
        forms = [self._form(dialect, item, form, paths, wrappers) for form in envelopes]
        body: Schema = forms[0] if len(forms) == 1 else {"oneOf": forms}
        security = openapi_keys.security(keys, self.security_schemes)
        how = f" Send the source's key {keys.how_to_send()}." if keys.styles else ""
        errors = self._errors(dialect)
        responses: dict[str, Any] = {"200": {"description": "every accepted event is committed", "content": {
            "application/json": {"schema": self._ok(dialect)}}}}
        for status, why in INGEST_ERRORS.items():
            answer: dict[str, Any] = {"description": why, "content": {"application/json": {"schema": errors}}}
            if status in (429, 503):
                answer["headers"] = RETRY_AFTER
            responses[str(status)] = answer
        operation = {"tags": [dialect.name], "summary": route.summary or dialect.description,
                     "description": (dialect.description.rstrip(".") + "." if dialect.description else "") + how,
                     "operationId": f"{dialect.name}:{route.path}", "security": security,
                     "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
                     "responses": responses}
        if "POST" not in route.methods:
            del operation["requestBody"]  # a GET route's event is its query string
        if route.fixed_answer is not None:
            operation["responses"] = {"200": {
                "description": "always, also when refused (then X-Gateway-Error says why)",
                "content": {route.fixed_answer[0]: {}}}}
        return operation

    def _form(self, dialect: Dialect, item: Schema, form: tuple[str, Any], paths: list[list[str]],
              wrappers: set[str]) -> Schema:
        """One body form, with the key fields the auth service reads in it: a path through a batch
        field (``batch.api_key``) is read in each event of that batch, the others where they start
        (at the top of the body, or of each event of a bare array)."""
        kind, extra = form
        ref = self.component(f"{dialect.name}.Event", item)
        own = [p for p in paths if p[0] not in wrappers]
        if kind == "array":
            return {"type": "array", "minItems": 1, "items": openapi_keys.with_key_fields(ref, own)}
        if kind == "wrapped":
            inner = [p[1:] for p in paths if p[0] == extra]
            outer = [p for p in paths if p[0] != extra]
            events = {"type": "array", "minItems": 1, "items": openapi_keys.with_key_fields(ref, inner)}
            wrapped: Schema = {"type": "object", "required": [extra], "properties": {extra: events}}
            wrapped["properties"].update((openapi_keys.key_fields(outer) or {}).get("properties", {}))
            return wrapped
        if extra:  # the route supplies these keys (e.g. the event type its path names)
            derived = copy.deepcopy(item)
            derived["required"] = [k for k in derived.get("required", []) if k not in extra]
            derived.setdefault("properties", {}).update({k: {"const": v} for k, v in extra.items()})
            suffix = ".".join(str(v) for v in extra.values())
            ref = self.component(f"{dialect.name}.Event.{re.sub(r'[^A-Za-z0-9_-]', '_', suffix)}", derived)
        return openapi_keys.with_key_fields(ref, own)

    def _ok(self, dialect: Dialect) -> Schema:
        sample = dialect.ok_body({"success": True, "accepted": 1}, IngestResult(accepted=1))
        properties: Schema = {k: {"type": _JSON_TYPES.get(type(v), "string")} for k, v in sample.items()}
        properties["rejected"] = {"type": "array", "items": {"type": "object"},
                                  "description": "events refused in a many-event request: index, code, message, field"}
        return self.component(f"{dialect.name}.Ok", {"type": "object", "required": sorted(sample),
                                                     "properties": properties})

    def _errors(self, dialect: Dialect) -> Schema:
        sample = dialect.error_body(GatewayError("probe").body(), GatewayError("probe"))
        extra = {k: {"type": _JSON_TYPES.get(type(v), "string")} for k, v in sample.items()
                 if k not in ERROR_SCHEMA["properties"]}
        if not extra:
            return {"$ref": ERROR}
        return self.component(f"{dialect.name}.Error", {"allOf": [{"$ref": ERROR}, {
            "type": "object", "required": sorted(extra), "properties": extra}]})

    # -- everything else -----------------------------------------------------------------------
    def other(self, route: Route, method: str, plugin: PluginRoute | None) -> dict[str, Any]:
        doc = (getattr(route.endpoint, "__doc__", None) or "").strip()
        summary = (plugin.summary if plugin else "") or doc.split("\n\n")[0].replace("\n", " ") or route.name
        operation: dict[str, Any] = {"summary": summary, "operationId": f"{method.lower()}:{route.path}",
                                     "responses": {"2XX": {"description": "success"},
                                                   "4XX": {"description": "client error", "content": {
                                                       "application/json": {"schema": {"$ref": ERROR}}}}}}
        if doc:
            operation["description"] = doc
        params = re.findall(r"{([^}:]+)(?::[^}]*)?}", route.path)
        if params:
            operation["parameters"] = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                                       for p in params]
        if method in ("POST", "PUT", "PATCH"):
            operation["requestBody"] = {"required": False, "content": {
                "application/json": {"schema": {"type": "object"}}}}
        if getattr(route.endpoint, "requires_admin_key", False):
            operation["security"] = [{"admin": []}]
            operation["tags"] = ["admin"]
            operation["responses"]["401"] = {"description": "missing or wrong admin key", "content": {
                "application/json": {"schema": {"$ref": ERROR}}}}
        return operation


def _envelopes(dialect: Dialect, route: DialectRoute, hints: set[str]) -> list[tuple[str, Any]]:
    """The body forms ``unpack`` takes: one object (with keys the route supplies), an array, or
    an object holding an array (under the field its error names when that is missing, or under
    a field ``hints`` names: where a body key path says events may sit, as in ``batch.api_key``)."""
    def probe(body: Any) -> Any:
        try:
            return dialect.unpack(body, route)
        except GatewayError as exc:
            return exc
        except Exception:
            return None

    forms: list[tuple[str, Any]] = []
    single = probe({})
    if not isinstance(single, (GatewayError, type(None))) and not single.many and len(single.items) == 1:
        item = single.items[0]
        forms.append(("object", dict(item) if isinstance(item, dict) else {}))
    array = probe([{}])
    if not isinstance(array, (GatewayError, type(None))) and array.many:
        forms.append(("array", None))
    field = single.detail.get("field") if isinstance(single, GatewayError) and isinstance(single.detail, dict) \
        else None
    for candidate in sorted({field, *hints} if isinstance(field, str) else hints):
        wrapped = probe({candidate: [{}]})
        if not isinstance(wrapped, (GatewayError, type(None))) and wrapped.many and wrapped.path == candidate:
            forms.append(("wrapped", candidate))
    return forms or [("object", {})]


def build_document(routes: Sequence[BaseRoute], plugin_routes: Sequence[PluginRoute]) -> dict[str, Any]:
    builder = Builder()
    plugins = {(r.path, m.upper()): r for r in plugin_routes for m in r.methods}
    for route in routes:
        if not isinstance(route, Route):
            continue  # mounts (static files) are not API operations
        path = re.sub(r"{([^}:]+):[^}]*}", r"{\1}", route.path)
        methods = sorted((route.methods or {"GET"}) - {"HEAD", "OPTIONS"})  # OPTIONS: CORS preflights
        for method in methods:
            if isinstance(route.endpoint, IngestEndpoint):
                operation = builder.ingest(route.endpoint.dialect, route.endpoint.route)
            else:
                operation = builder.other(route, method, plugins.get((route.path, method)))
            builder.paths.setdefault(path, {})[method.lower()] = operation
    builder.paths["/openapi.json"] = {"get": {"summary": "This document", "operationId": "get:/openapi.json",
                                              "responses": {"200": {"description": "OpenAPI 3.1"}}}}
    try:
        version = importlib.metadata.version("event-gateway")
    except importlib.metadata.PackageNotFoundError:
        version = "0"
    return {"openapi": "3.1.0",
            "info": {"title": "Event gateway", "version": version,
                     "description": "Ingestion routes of every loaded dialect, and the admin and plugin routes."},
            "paths": builder.paths,
            "components": {"schemas": builder.schemas, "securitySchemes": builder.security_schemes}}


def openapi_route(routes: Sequence[BaseRoute], plugin_routes: Sequence[PluginRoute]) -> Route:
    """``GET /openapi.json``, rendered now: the routes do not change while the gateway runs."""
    document = orjson.dumps(build_document(routes, plugin_routes))

    async def openapi(request: Request) -> Response:
        return Response(document, media_type="application/json")

    return Route("/openapi.json", openapi, methods=["GET"], name="openapi")
