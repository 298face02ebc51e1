"""The ASGI application factory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from gateway.admin import SourceRegistry, admin_routes
from gateway.admin_auth import admin_only
from gateway.config import Config
from gateway.cors import with_cors
from gateway.dispatch import ExactRoutes, GatewayApp
from gateway.errors import GatewayError
from gateway.inflight import InflightLimit
from gateway.ingest import IngestEndpoint
from gateway.metrics import CONTENT_TYPE
from gateway.openapi import openapi_route
from gateway.protocol_errors import install as install_protocol_errors
from gateway.responses import error_response, json_response
from gateway.routes import slash_forms
from gateway.runtime import Gateway

log = logging.getLogger("gateway")
SCRAPE_REFRESH_SECONDS = 1.0


async def health(request: Request) -> Response:
    return json_response({"status": "ok"})


async def ready(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    try:
        async with gateway.database.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:
        return json_response({"code": "not_ready", "message": "the durable log's database does not answer",
                              "detail": None}, status=503, headers={"Retry-After": "5"})
    problem = await gateway.durable.can_write()
    if problem is not None:
        return json_response({"code": "not_ready", "message": "the durable log cannot write events now",
                              "detail": problem}, status=503, headers={"Retry-After": "5"})
    # Which process answered: with ``[server] workers`` > 1 the kernel spreads connections over them.
    return json_response({"status": "ready", "pid": os.getpid()})


async def metrics(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    # Delivery's figures as they stand now; the last snapshot when the database is slow to answer.
    with contextlib.suppress(Exception):
        await asyncio.wait_for(gateway.delivery.refresh(), SCRAPE_REFRESH_SECONDS)
    return Response(gateway.metrics.render(), media_type=CONTENT_TYPE)


def _closing(request: Request, response: Response) -> Response:
    """An error may be answered before the request's body was read, and Hypercorn then drops the
    connection: say so, so the client does not send its next request into it."""
    if request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers:
        response.headers["Connection"] = "close"
    return response


async def on_gateway_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    request.app.state.gateway.request_log.refused(request.url.path, None, exc.status, exc.code, exc.message)
    return _closing(request, error_response(exc))


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    message = {404: f"no route {request.url.path}",
               405: f"{request.method} is not allowed on {request.url.path}"}.get(exc.status_code, exc.detail)
    headers = dict(exc.headers) if exc.headers else {}
    gateway: Gateway = request.app.state.gateway
    if request.url.path in gateway.cors.paths:  # e.g. a GET on an ingest route: the page may read the 405
        headers.update(gateway.cors.answer_headers(request.headers.get("origin")))
    request.app.state.gateway.request_log.refused(request.url.path, None, exc.status_code, code, message)
    return _closing(request, error_response(GatewayError(message, status=exc.status_code, code=code,
                                                         headers=headers)))


async def on_internal_error(request: Request, exc: Exception) -> Response:
    log.exception("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(GatewayError("internal error", status=500, code="internal_error"))


def build_routes(gateway: Gateway, exact: ExactRoutes | None = None) -> list[BaseRoute]:
    """Every route, for Starlette; ``exact`` also gets the ingest routes, for ``GatewayApp``'s
    dispatch in front of Starlette (their 404/405 neighbours and the OpenAPI page still come from here)."""
    routes: list[BaseRoute] = [
        Route("/health", health, methods=["GET"]),
        Route("/ready", ready, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/api/v1/status", admin_only(status), methods=["GET"]),
    ]
    routes += admin_routes()
    claimed: dict[tuple[str, str], str] = {}
    for dialect in gateway.dialects.values():
        for route in dialect.routes:
            for method in route.methods:
                owner = claimed.setdefault((route.path, method), dialect.name)
                if owner != dialect.name:
                    raise GatewayError(f"dialects {owner!r} and {dialect.name!r} both claim {method} {route.path}")
            # OPTIONS: the ingest endpoint answers browsers' CORS preflights itself.
            ingest = IngestEndpoint(gateway, dialect, route)
            methods = [*route.methods, "OPTIONS"]
            routes.append(Route(route.path, ingest, methods=methods))
            gateway.cors.paths.update(route.paths)
            if exact is not None:
                for path in route.paths:
                    exact.add(path, methods, ingest)
    plugin_routes = gateway.hooks.routes()
    for plugin_route in plugin_routes:
        endpoint = admin_only(plugin_route.endpoint) if plugin_route.admin else plugin_route.endpoint
        methods = list(plugin_route.methods)
        if plugin_route.cors:
            endpoint, methods = with_cors(endpoint), [*methods, "OPTIONS"]
        routes.append(Route(plugin_route.path, endpoint, methods=methods, name=plugin_route.name))
    routes.append(openapi_route(routes, plugin_routes))
    return routes + slash_twins(routes)


def slash_twins(routes: list[BaseRoute]) -> list[BaseRoute]:
    """The other trailing-slash form of each route not registered in both already, served by the same
    endpoint: ``POST /v1/track/`` is answered, not redirected (clients drop the body on a 307).
    Listed after the OpenAPI document is built, which names each route once."""
    taken = {(r.path, m) for r in routes if isinstance(r, Route) for m in (r.methods or ())}
    twins: list[BaseRoute] = []
    for route in routes:
        if not isinstance(route, Route):
            continue
        endpoint = route.endpoint
        forms = endpoint.route.paths if isinstance(endpoint, IngestEndpoint) else slash_forms(route.path)
        for path in forms:
            methods = [m for m in (route.methods or ()) if (path, m) not in taken]
            if path != route.path and methods:
                taken.update((path, m) for m in methods)
                twins.append(Route(path, endpoint, methods=methods))
    return twins


async def status(request: Request) -> Response:
    """Delivery across the deployment: live processes, their leases, lag per sink and partition."""
    gateway: Gateway = request.app.state.gateway
    return json_response((await gateway.delivery.refresh()).as_json())


def create_app(config: Config) -> GatewayApp:
    gateway = Gateway(config)
    registry = SourceRegistry(gateway)
    gateway.runtime_sources = registry
    gateway.services.append((registry.start, registry.follow))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gateway.start()
        try:
            yield
        finally:
            await gateway.stop()

    handlers: dict[Any, Any] = {GatewayError: on_gateway_error, HTTPException: on_http_error,
                                Exception: on_internal_error}
    install_protocol_errors()
    # Outermost: a request refused for its framing or for the bytes in flight costs nothing further.
    # One instance in front of both the exact ingest routes and Starlette's stack: one cap for all.
    exact = ExactRoutes()
    app = GatewayApp(routes=build_routes(gateway, exact), lifespan=lifespan, exception_handlers=handlers)
    app.exact = exact
    app.front = InflightLimit(app.dispatch, max_bytes=config.server.max_inflight_bytes)
    app.router.redirect_slashes = False  # every route is served in both forms; an unknown path is a 404
    app.state.gateway = gateway
    return app
