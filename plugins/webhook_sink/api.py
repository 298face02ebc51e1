"""The webhooks API: create (after a test POST), list, show, change, delete.

API-created webhooks are runtime sinks of the core, which persists them and restarts them;
webhooks from config.toml are listed too but change only in the file (409 here).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway import ConfigError, GatewayError, SinkConfig, json_response, validate_sink

from . import store
from .probe import require_working_target
from .settings import (
    SECRET_FIELDS,
    SINK_TYPE,
    WebhookSettings,
    mask,
    new_signing_secret,
)
from .views import find, gateway_of, json_object, links, webhook_json, webhooks

GENERATE = "generate"  # "signing_secret": "generate" asks the gateway to make one (shown once)


def _dry_run(request: Request, webhook_id: str, settings: Mapping[str, Any]) -> SinkConfig:
    """Validate as the core will, before the test POST goes anywhere."""
    table = {"start": "now", **settings, "name": webhook_id, "type": SINK_TYPE}
    try:
        return validate_sink(table, gateway_of(request).sink_types, f"webhook {webhook_id!r}", origin="api")
    except ConfigError as exc:
        message = str(exc)
        for key in SECRET_FIELDS:  # a refused secret is not echoed back either
            value = settings.get(key)
            if isinstance(value, str) and value:
                message = message.replace(value, mask(value) or "")
        raise GatewayError(message, code="invalid_webhook") from None


def _writable(sink_config: SinkConfig) -> None:
    if sink_config.origin == "config":
        raise GatewayError(f"webhook {sink_config.name!r} comes from the config file; change it there",
                           status=409, code="read_only", detail={"id": sink_config.name})


def _answer(request: Request, webhook_id: str, secret: str | None) -> Response:
    results: dict[str, Any] = {"id": webhook_id, "links": links(request, webhook_id)}
    if secret is not None:
        results["signing_secret"] = secret  # the only time a secret is shown whole
    return json_response({"results": results})


async def list_webhooks(request: Request) -> Response:
    gateway = gateway_of(request)
    await store.ensure_tables(gateway.state_database)
    counts = await store.counts(gateway.state_database.engine)
    found = [webhook_json(request, w, counts.get(w.name, {})) for w in webhooks(request)]
    return json_response({"results": found})


async def show_webhook(request: Request) -> Response:
    sink_config = find(request)
    gateway = gateway_of(request)
    await store.ensure_tables(gateway.state_database)
    counts = await store.counts(gateway.state_database.engine, sink_config.name)
    return json_response({"results": webhook_json(request, sink_config, counts.get(sink_config.name, {}))})


async def create_webhook(request: Request) -> Response:
    body = await json_object(request)
    label = body.pop("name", None)
    if not isinstance(label, str) or not label.strip():
        raise GatewayError("name is required: a name for the webhook", code="invalid_webhook",
                           detail={"field": "name"})
    webhook_id = body.pop("id", None) or str(uuid.uuid4())
    if not isinstance(webhook_id, str):
        raise GatewayError("id must be a string", code="invalid_webhook", detail={"field": "id"})
    if any(s.name == webhook_id for s in gateway_of(request).sink_configs()):
        raise GatewayError(f"a webhook or sink with id {webhook_id!r} exists already", status=409,
                           code="conflict", detail={"id": webhook_id})
    body.pop("type", None)
    settings: dict[str, Any] = {**body, "label": label}
    # The API is reachable from the network: private targets only when the admin says so.
    settings.setdefault("allow_private_targets", False)
    secret = None
    if settings.get("signing_secret") == GENERATE:
        secret = settings["signing_secret"] = new_signing_secret()
    checked = _dry_run(request, webhook_id, settings)
    await require_working_target(WebhookSettings.from_mapping(webhook_id, checked.settings))
    await gateway_of(request).add_sink(webhook_id, SINK_TYPE, settings)
    return _answer(request, webhook_id, secret)


async def update_webhook(request: Request) -> Response:
    """Change some settings; ``null`` removes one, a masked secret sent back keeps the secret."""
    current = find(request)
    _writable(current)
    body = await json_object(request)
    if body.pop("id", current.name) != current.name:
        raise GatewayError("a webhook's id cannot change", code="invalid_webhook", detail={"field": "id"})
    body.pop("type", None)
    if "name" in body:
        body["label"] = body.pop("name")
    settings = {k: v for k, v in current.settings.items() if k not in ("name", "type")}
    secret = None
    for key, value in body.items():
        if value is None:
            settings.pop(key, None)
        elif key in SECRET_FIELDS and value == mask(current.settings.get(key)):
            continue  # a GET-then-PUT client sends the masked form back: keep the real secret
        elif key == "signing_secret" and value == GENERATE:
            secret = settings[key] = new_signing_secret()
        else:
            settings[key] = value
    settings.setdefault("allow_private_targets", False)  # removed: back to the API's default
    checked = _dry_run(request, current.name, settings)
    now_guarded = not checked.settings.get("allow_private_targets", True)
    was_guarded = not current.settings.get("allow_private_targets", True)
    if checked.settings.get("target") != current.settings.get("target") or (now_guarded and not was_guarded):
        await require_working_target(WebhookSettings.from_mapping(current.name, checked.settings))
    await gateway_of(request).update_sink(current.name, settings)
    return _answer(request, current.name, secret)


async def delete_webhook(request: Request) -> Response:
    current = find(request)
    _writable(current)
    gateway = gateway_of(request)
    await gateway.remove_sink(current.name)
    await store.ensure_tables(gateway.state_database)
    await store.forget(gateway.state_database.engine, current.name)
    return Response(status_code=204)
