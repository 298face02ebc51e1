"""What the browser SDKs fetch before they send: analytics.js settings and RudderStack's source config.

Served here so a page needs neither Segment's CDN nor RudderStack's control plane: the answers hold
only what the SDKs need to load and to send their events to this gateway (no destinations, no
device-mode integrations, no SDK telemetry), which keeps every request of the page on this host.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import TYPE_CHECKING, Any

from gateway import GatewayError, PluginRoute, Source, Unauthorized, json_response
from gateway.clientip import from_trusted_proxy

if TYPE_CHECKING:  # the plugin loads for ``gateway check`` too, which must not import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

DIALECT_NAME = "segment_style"
_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")
METRICS_BODY_LIMIT = 64 * 1024


def _source(request: Request, key: str | None) -> Source:
    gateway = request.app.state.gateway
    if not key:
        raise Unauthorized("missing key: put your source's write key in the URL", code="missing_key")
    source: Source | None = gateway.auth.lookup(DIALECT_NAME, key)
    if source is None:
        raise Unauthorized("unknown key: no source of this endpoint has it", code="invalid_key")
    gateway.cors.check(request.headers.get("origin"), source.allowed_origins)
    return source


def _here(request: Request) -> tuple[str, str]:
    """(scheme, host[:port]) the client reached this gateway at, so the SDK sends its events back here."""
    host = request.headers.get("host", "")
    scheme = request.url.scheme
    gateway = request.app.state.gateway
    if from_trusted_proxy(request.client.host if request.client else None, gateway.trusted_proxies):
        scheme = request.headers.get("x-forwarded-proto", scheme).split(",")[0].strip()
        host = request.headers.get("x-forwarded-host", host).split(",")[0].strip()
    if not _HOST.match(host) or scheme not in ("http", "https"):
        raise GatewayError("the Host header is not a host name", code="invalid_host", detail={"field": "Host"})
    return scheme, host


async def analytics_js_settings(request: Request) -> Response:
    """analytics-next's settings object: where Segment.io sends, and nothing else to load."""
    key = request.path_params["write_key"]
    _source(request, key)
    scheme, host = _here(request)
    segment_io: dict[str, Any] = {"apiKey": key, "apiHost": f"{host}/v1", "protocol": scheme,
                                  "unbundledIntegrations": [], "addBundledMetadata": True,
                                  "maybeBundledConfigIds": {}}
    return _json({
        "integrations": {"Segment.io": segment_io},
        "plan": {},
        "edgeFunction": {},
        "analyticsNextEnabled": True,
        "middlewareSettings": {},
        "enabledMiddleware": {},
        # The SDK's own telemetry would go to /v1/m; it is not events, so none is asked for.
        "metrics": {"sampleRate": 0, "host": f"{host}/v1"},
        "legacyVideoPluginsEnabled": False,
        "remotePlugins": [],
    })


def _basic_user(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        return base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")[0] or None
    except (binascii.Error, UnicodeDecodeError):
        return None


async def rudderstack_source_config(request: Request) -> Response:
    """RudderStack v3's source config: the source, enabled, with no destinations and no SDK telemetry."""
    key = request.query_params.get("writeKey") or _basic_user(request)
    source = _source(request, key)
    off = {"enabled": False}
    return _json({
        "isHosted": False,
        "source": {
            "id": source.id,
            "name": source.name,
            "writeKey": key,
            "enabled": True,
            "workspaceId": source.id,
            "config": {"statsCollection": {"errors": off, "metrics": off}},
            "destinations": [],
        },
    })


async def sdk_metrics(request: Request) -> Response:
    """analytics-next's telemetry (/v1/m): read and acknowledged, not stored; it carries no events."""
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > METRICS_BODY_LIMIT:
            raise GatewayError(f"metrics body exceeds {METRICS_BODY_LIMIT} bytes", status=413,
                               code="payload_too_large", detail={"max_bytes": METRICS_BODY_LIMIT})
    return _json({"success": True})


SETTINGS_ROUTES = (
    PluginRoute("/v1/projects/{write_key}/settings", analytics_js_settings, admin=False, cors=True,
                name="analytics_js_settings", summary="analytics.js settings (set cdnURL to this gateway)"),
    PluginRoute("/sourceConfig/", rudderstack_source_config, admin=False, cors=True,
                name="rudderstack_source_config",
                summary="RudderStack source config, ?writeKey=KEY (set configUrl to this gateway)"),
    *(PluginRoute(f"{prefix}/m", sdk_metrics, methods=("POST",), admin=False, cors=True,
                  name=f"sdk_metrics{prefix.replace('/', '_')}", summary="analytics.js telemetry, acknowledged")
      for prefix in ("/v1", "/analytics/v1")),
)


def _json(body: Any) -> Response:
    return json_response(body)
