"""Ingest routes straight to their endpoint: an exact-path table in front of Starlette.

Starlette's middleware stack and its router (a regular expression per route, tried in turn) cost
more per request than the ingest endpoint's own work. An ingest route has a fixed path and
method, so a dict lookup finds its endpoint; everything else (admin, plugin routes, 404 and 405
answers, lifespan) goes through Starlette unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import orjson
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.errors import GatewayError
from gateway.responses import send_json

log = logging.getLogger("gateway")
INTERNAL_ERROR = orjson.dumps(GatewayError("internal error", status=500, code="internal_error").body())


class ExactRoutes:
    """``path -> method -> endpoint`` for the routes that skip Starlette's router and middleware."""

    def __init__(self) -> None:
        self.table: dict[str, dict[str, ASGIApp]] = {}

    def add(self, path: str, methods: Iterable[str], endpoint: ASGIApp) -> None:
        by_method = self.table.setdefault(path, {})
        for method in methods:
            by_method[method] = endpoint
            if method == "GET":
                by_method.setdefault("HEAD", endpoint)

    def find(self, scope: Scope) -> ASGIApp | None:
        by_method = self.table.get(scope["path"])
        return by_method.get(scope["method"]) if by_method is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer with the endpoint of the request's path; one it lets an error escape is a bug,
        logged and answered 500 as Starlette's error middleware would."""
        endpoint = self.find(scope)
        assert endpoint is not None, "GatewayApp calls this only for a path in the table"
        try:
            await endpoint(scope, receive, send)
        except Exception:
            log.exception("internal error on %s %s", scope["method"], scope["path"])
            try:
                await send_json(send, 500, INTERNAL_ERROR)
            except Exception:  # the answer had started, or the client is gone: nothing to say
                pass


class GatewayApp(Starlette):
    """Starlette, with ``exact`` routes answered before its middleware and router run.

    ``front``, when set, is the layer every request passes first, exact or not (the one cap on
    bytes in flight); it wraps ``dispatch``.
    """

    exact: ExactRoutes
    front: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.front is not None and scope["type"] == "http":
            await self.front(scope, receive, send)
        else:
            await self.dispatch(scope, receive, send)

    async def dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        # With a root_path, Starlette's router knows how to strip it: leave those requests to it.
        if scope["type"] == "http" and not scope.get("root_path") and self.exact.find(scope) is not None:
            await self.exact(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
