"""The sources admin API: list, create, show, delete, rotate a key, check the connection, read events.

Every route needs the admin key (the core checks it). Sources from config.toml are listed and
readable; only sources created here can be deleted or have their key rotated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.admin import stats
from gateway.admin.keys import DEFAULT_GRACE_SECONDS, MAX_GRACE_SECONDS
from gateway.admin.registry import not_found
from gateway.admin.views import dialect_json, event_json, iso, rejection_json, source_json, status_json
from gateway.body import parse_json
from gateway.errors import GatewayError
from gateway.responses import json_response
from gateway.sources import Source

if TYPE_CHECKING:
    from gateway.runtime import Gateway

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def gateway_of(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


async def _source(request: Request) -> Source:
    """The source the path names, after picking up what other processes changed."""
    gateway = gateway_of(request)
    await gateway.runtime_sources.refresh()
    name = request.path_params["name"]
    source = gateway.sources.get(name)
    if source is None:
        raise not_found(name)
    return source


async def _body(request: Request, *, required: bool = True) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip() and not required:
        return {}
    data = parse_json(raw)
    if not isinstance(data, dict):
        raise GatewayError("the body must be a JSON object", code="invalid_body",
                           detail={"expected": "object", "got": type(data).__name__})
    return data


def _query_int(request: Request, key: str, default: int | None, maximum: int) -> int | None:
    raw = request.query_params.get(key)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= maximum:
        raise GatewayError(f"{key} must be a whole number from 1 to {maximum}", code="invalid_query",
                           detail={"field": key, "value": raw})
    return int(raw)


async def _source_json(gateway: Gateway, source: Source, counters: dict[str, Any],
                       recent: dict[str, int]) -> dict[str, Any]:
    record = gateway.runtime_sources.records.get(source.name)
    return source_json(source, gateway.dialects[source.dialect], record, counters.get(source.name),
                       recent.get(source.name, 0))


async def _counters(gateway: Gateway) -> tuple[dict[str, Any], dict[str, int]]:
    floors = {n: r.since_seq for n, r in gateway.runtime_sources.records.items() if r.since_seq}
    return await stats.source_stats(gateway.database), await stats.recent_counts(gateway.database, floors)


async def list_sources(request: Request) -> Response:
    """List every source, from config.toml and from the API, with status and counters."""
    gateway = gateway_of(request)
    await gateway.runtime_sources.refresh()
    counters, recent = await _counters(gateway)
    found = [await _source_json(gateway, s, counters, recent) for s in list(gateway.sources.values())]
    return json_response({"sources": found})


def _created(gateway: Gateway, source: Source, shown: dict[str, Any], source_view: dict[str, Any]) -> dict[str, Any]:
    keys = gateway.dialects[source.dialect].credentials(source.settings)
    return {"source": source_view, "credentials": shown, "key": keys[0] if keys else None,
            "notice": "Store the key now: the gateway shows it in full only this once."}


async def create_source(request: Request) -> Response:
    """Create a source; key fields left out are generated and shown in full only in this answer.

    The body is a ``[[sources]]`` table as JSON: ``name``, ``dialect`` and the dialect's settings
    (at the top level, or in a ``settings`` object).
    """
    body = await _body(request)
    nested = body.pop("settings", {})
    if not isinstance(nested, dict):
        raise GatewayError("settings must be a JSON object", code="invalid_body", detail={"field": "settings"})
    gateway = gateway_of(request)
    source, shown = await gateway.runtime_sources.create({**nested, **body})
    counters, recent = await _counters(gateway)
    view = await _source_json(gateway, source, counters, recent)
    return json_response(_created(gateway, source, shown, view), status=201)


async def show_source(request: Request) -> Response:
    """Show one source with its status and counters (secrets as hints)."""
    source = await _source(request)
    gateway = gateway_of(request)
    counters, recent = await _counters(gateway)
    return json_response({"source": await _source_json(gateway, source, counters, recent)})


async def delete_source(request: Request) -> Response:
    """Delete a source created through the API; its key stops working at once (204)."""
    await gateway_of(request).runtime_sources.delete(request.path_params["name"])
    return Response(status_code=204)


async def rotate_key(request: Request) -> Response:
    """Give a source a new key, shown once; the old key keeps working for ``grace_seconds`` (default a day)."""
    body = await _body(request, required=False)
    grace = body.get("grace_seconds", DEFAULT_GRACE_SECONDS)
    if isinstance(grace, bool) or not isinstance(grace, int | float) or not 0 <= grace <= MAX_GRACE_SECONDS:
        raise GatewayError(f"grace_seconds must be a number from 0 to {MAX_GRACE_SECONDS}", code="invalid_body",
                           detail={"field": "grace_seconds", "value": grace})
    gateway = gateway_of(request)
    source, shown, expires_at = await gateway.runtime_sources.rotate(request.path_params["name"], float(grace))
    counters, recent = await _counters(gateway)
    view = await _source_json(gateway, source, counters, recent)
    answer = _created(gateway, source, shown, view)
    answer["previous_key_expires_at"] = iso(expires_at)
    return json_response(answer)


async def source_status(request: Request) -> Response:
    """Check the connection: "no activity" until the first event arrives, then "connected"."""
    source = await _source(request)
    counters = await stats.source_stats(gateway_of(request).database)
    return json_response(status_json(source, counters.get(source.name)))


async def source_events(request: Request) -> Response:
    """The source's events, newest first: the canonical event and what the client sent.

    Page with ``?before=<seq>`` (the ``next_before`` of the previous page) and ``?limit=`` (1-500).
    """
    source = await _source(request)
    limit = _query_int(request, "limit", DEFAULT_LIMIT, MAX_LIMIT) or DEFAULT_LIMIT
    before = _query_int(request, "before", None, 2**62)
    gateway = gateway_of(request)
    record = gateway.runtime_sources.records.get(source.name)
    rows = await stats.events_page(gateway.database, source.name, before=before, limit=limit,
                                   since_seq=record.since_seq if record is not None else 0)
    events = [event_json(r) for r in rows]
    return json_response({"events": events,
                          "next_before": events[-1]["seq"] if len(events) == limit else None})


async def source_rejections(request: Request) -> Response:
    """The source's rejected events, newest first, with the reason and the payload as sent.

    Page with ``?before=<id>`` (the ``next_before`` of the previous page) and ``?limit=`` (1-500).
    """
    source = await _source(request)
    limit = _query_int(request, "limit", DEFAULT_LIMIT, MAX_LIMIT) or DEFAULT_LIMIT
    before = _query_int(request, "before", None, 2**62)
    rows = await stats.rejections_page(gateway_of(request).database, source.name, before=before, limit=limit)
    rejections = [rejection_json(r) for r in rows]
    return json_response({"rejections": rejections,
                          "next_before": rejections[-1]["id"] if len(rejections) == limit else None})


async def list_dialects(request: Request) -> Response:
    """The dialects a source can speak, with their endpoints, key styles and settings."""
    dialects = gateway_of(request).dialects
    return json_response({"dialects": [dialect_json(d) for _, d in sorted(dialects.items())]})
