"""What the webhooks API shows and reads: a webhook as JSON, a batch as JSON, and lookups.

A webhook's id is its sink name: the config file's ``name``, or the uuid the API gave it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from gateway import GatewayError, parse_json

from .settings import SINK_TYPE, effective, masked_settings
from .store import STATES

if TYPE_CHECKING:
    from gateway import SinkConfig
    from gateway.runtime import Gateway

LINK_REL = "urn.msys.webhooks.webhook"  # the rel Momentum's clients look for
HIDDEN = ("name", "type", "label")


def gateway_of(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


def find(request: Request) -> SinkConfig:
    webhook_id = request.path_params["id"]
    for sink_config in gateway_of(request).sink_configs():
        if sink_config.type == SINK_TYPE and sink_config.name == webhook_id:
            return sink_config
    raise GatewayError(f"no webhook with id {webhook_id!r}", status=404, code="not_found",
                       detail={"id": webhook_id})


def webhooks(request: Request) -> list[SinkConfig]:
    return [s for s in gateway_of(request).sink_configs() if s.type == SINK_TYPE]


def links(request: Request, webhook_id: str) -> list[dict[str, Any]]:
    href = str(request.url_for("webhook", id=webhook_id))
    return [{"href": href, "rel": LINK_REL, "method": ["GET", "PUT", "DELETE"]}]


def webhook_json(request: Request, sink_config: SinkConfig,
                 counts: Mapping[str, int] | None = None) -> dict[str, Any]:
    """Everything about a webhook but its secrets, which show only their last characters."""
    settings = masked_settings(effective(sink_config.settings))
    out: dict[str, Any] = {
        "id": sink_config.name,
        "name": sink_config.settings.get("label", sink_config.name),
        "origin": sink_config.origin,
        "read_only": sink_config.origin == "config",
    }
    out.update({k: v for k, v in settings.items() if k not in HIDDEN})
    if counts is not None:
        out["batches"] = {state: counts.get(state, 0) for state in STATES}
    out["links"] = links(request, sink_config.name)
    return out


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def batch_json(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "batch_id": row["id"],
        "state": row["state"],
        "size": row["size"],
        "attempts": row["attempts"],
        "response_code": row["last_status"],
        "last_error": row["last_error"],
        "created_at": iso(row["created_at"]),
        "last_attempt_at": iso(row["last_attempt_at"]),
        "next_attempt_at": iso(row["next_attempt_at"]),
        "finished_at": iso(row["finished_at"]),
        "first_seq": row["first_seq"],
        "last_seq": row["last_seq"],
    }


async def json_object(request: Request) -> dict[str, Any]:
    data = parse_json(await request.body())
    if not isinstance(data, dict):
        raise GatewayError("the body must be a JSON object", code="invalid_body",
                           detail={"expected": "object", "got": type(data).__name__})
    return data


def parse_time(value: Any, field: str) -> float:
    """An ISO-8601 time (naive means UTC) as epoch seconds."""
    if not isinstance(value, str):
        raise GatewayError(f"{field} must be an ISO-8601 time string", code="invalid_field",
                           detail={"field": field})
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise GatewayError(f"{field} is not an ISO-8601 time: {value!r}", code="invalid_field",
                           detail={"field": field}) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()
