"""Ingest routes answered from the exact-path table in front of Starlette; everything else unchanged."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from gateway.dispatch import ExactRoutes, GatewayApp
from gateway.responses import send_json
from tests.conftest import PROBE_CONFIG

calls: list[str] = []


async def fast(scope: Scope, receive: Receive, send: Send) -> None:
    calls.append("fast")
    await send_json(send, 200, b'{"success":true}')


async def broken(scope: Scope, receive: Receive, send: Send) -> None:
    raise RuntimeError("a bug, with a secret in its message")


async def routed(request: Request) -> PlainTextResponse:
    calls.append("router")
    return PlainTextResponse("through Starlette")


def app() -> GatewayApp:
    exact = ExactRoutes()
    exact.add("/in", ["POST"], fast)
    exact.add("/bug", ["POST"], broken)
    gateway_app = GatewayApp(routes=[Route("/in", routed, methods=["POST", "GET"]), Route("/other", routed)])
    gateway_app.exact = exact
    return gateway_app


def request(method: str, path: str) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app(), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, path)

    return asyncio.run(go())


def test_an_exact_path_and_method_skip_the_router() -> None:
    calls.clear()
    assert request("POST", "/in").json() == {"success": True}
    assert calls == ["fast"]


def test_other_methods_and_paths_go_through_starlette() -> None:
    calls.clear()
    assert request("GET", "/in").text == "through Starlette"
    assert request("GET", "/other").text == "through Starlette"
    assert request("POST", "/in/").status_code in (307, 404)  # Starlette's own answer, as before
    assert calls == ["router", "router"]


def test_a_bug_in_an_exact_endpoint_is_a_json_500_without_its_text() -> None:
    r = request("POST", "/bug")
    assert r.status_code == 500
    assert r.json() == {"code": "internal_error", "message": "internal error", "detail": None}
    assert "secret" not in r.text


def test_through_a_real_server_the_neighbours_of_an_ingest_route_answer_json(gateway_factory: Any) -> None:
    gw = gateway_factory(PROBE_CONFIG)
    ok = gw.post("/probe/track", json={"event": "e", "userId": "u"}, auth=("probe-write-key", ""))
    assert ok.status_code == 200, ok.text
    wrong = gw.get("/probe/track")
    assert wrong.status_code == 405 and wrong.json()["code"] == "method_not_allowed"
    assert gw.get("/health").json() == {"status": "ok"}
