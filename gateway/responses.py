"""JSON answers, built with orjson. Errors always carry ``code``, ``message`` and ``detail``."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response
from starlette.types import Send

from gateway.errors import GatewayError

JSON = b"application/json"


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers=headers)


def error_response(error: GatewayError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers or None)


async def send_json(send: Send, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
    """The hot path's answer, straight to ASGI: no Response object per request."""
    raw_headers = [(b"content-type", JSON), (b"content-length", str(len(body)).encode())]
    if headers:
        raw_headers.extend((k.lower().encode(), v.encode()) for k, v in headers.items())
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


async def send_empty(send: Send, status: int, headers: dict[str, str]) -> None:
    raw_headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": b""})


async def send_fixed(send: Send, answer: tuple[str, bytes], headers: dict[str, str]) -> None:
    """A route's one answer (a tracking pixel's image), never cached so that every view is counted."""
    media_type, body = answer
    raw_headers = [(b"content-type", media_type.encode()), (b"content-length", str(len(body)).encode()),
                   (b"cache-control", b"no-store")]
    raw_headers.extend((k.lower().encode(), v.encode()) for k, v in headers.items())
    await send({"type": "http.response.start", "status": 200, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})
