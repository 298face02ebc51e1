"""The webhooks API around delivery: validate (a test POST now), batch-status, replay.

These work for config-file webhooks too: they read and write batches, not the webhook.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway import GatewayError, json_response

from . import store
from .probe import outcome_json, send_test
from .settings import WebhookSettings
from .views import batch_json, find, gateway_of, json_object, parse_time

MAX_LIMIT = 1000


async def validate_webhook(request: Request) -> Response:
    """Send the test POST now and report what the target answered (200 either way)."""
    sink_config = find(request)
    outcome = await send_test(WebhookSettings.from_mapping(sink_config.name, sink_config.settings))
    message = "Test POST to the target succeeded" if outcome.ok else "Test POST to the target failed"
    return json_response({"results": {"ok": outcome.ok, "msg": message, "response": outcome_json(outcome)}})


def _query_int(request: Request, key: str, default: int, maximum: int) -> int:
    raw = request.query_params.get(key)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= maximum:
        raise GatewayError(f"{key} must be a whole number from 1 to {maximum}", code="invalid_query",
                           detail={"field": key, "value": raw})
    return int(raw)


async def batch_status(request: Request) -> Response:
    """Recent batches, newest first; ``?state=dead`` (or pending, retrying, delivered), ``?limit=``."""
    sink_config = find(request)
    state = request.query_params.get("state")
    if state is not None and state not in store.STATES:
        raise GatewayError(f"state must be one of {', '.join(store.STATES)}", code="invalid_query",
                           detail={"field": "state", "value": state})
    limit = _query_int(request, "limit", 100, MAX_LIMIT)
    gateway = gateway_of(request)
    await store.ensure_tables(gateway.state_database)
    rows = await store.recent(gateway.state_database.engine, sink_config.name, state=state, limit=limit)
    return json_response({"results": [batch_json(r) for r in rows]})


async def replay(request: Request) -> Response:
    """``{"batch_id": ...}`` replays one batch; ``{}`` or ``{"since": ISO}`` every dead batch (since then)."""
    sink_config = find(request)
    body = await json_object(request) if (await request.body()).strip() else {}
    unknown = sorted(set(body) - {"batch_id", "since"})
    if unknown:
        raise GatewayError(f"unknown key {unknown[0]}; allowed keys: batch_id, since", code="invalid_body",
                           detail={"field": unknown[0]})
    gateway = gateway_of(request)
    await store.ensure_tables(gateway.state_database)
    engine = gateway.state_database.engine
    batch_id = body.get("batch_id")
    if batch_id is not None:
        if not isinstance(batch_id, str):
            raise GatewayError("batch_id must be a string", code="invalid_body", detail={"field": "batch_id"})
        row = await store.get(engine, batch_id)
        if row is None or row["webhook"] != sink_config.name:
            raise GatewayError(f"webhook {sink_config.name!r} has no batch {batch_id!r}", status=404,
                               code="not_found", detail={"batch_id": batch_id})
        if row["state"] == store.DELIVERED:
            raise GatewayError(f"batch {batch_id!r} was delivered already", status=409, code="delivered",
                               detail={"batch_id": batch_id})
    since = parse_time(body["since"], "since") if "since" in body else None
    ids = await store.replay(engine, batch_id=batch_id, webhook=sink_config.name, since=since)
    sink: Any = gateway.sink(sink_config.name)
    if sink is not None and hasattr(sink, "sender"):
        sink.sender.wake()
    return json_response({"results": {"replayed": len(ids), "batch_ids": ids}})
