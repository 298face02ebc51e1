"""The outermost ASGI layer: requests whose framing is ambiguous are refused, and the request
bytes held by all requests in flight are capped.

Ambiguous framing: a request with both ``Transfer-Encoding`` and ``Content-Length`` is how
request smuggling starts (a proxy in front may frame it by the other header). RFC 9112 6.3
lets a server reject it or close the connection after answering; it is refused with 400 and the
connection closed, as is a ``Transfer-Encoding`` other than one ``chunked``.

Bytes in flight: every request body is held in memory while it is parsed, mapped and committed,
several times over as Python objects. Without a cap, enough clients posting big batches at once
take all the memory there is. A request that declares its length reserves it before a byte of
the body is read; a streamed (chunked) body is counted as it arrives. Past ``max_inflight_bytes``
the request is answered ``503`` with ``Retry-After`` (SDKs retry it) and ``Connection: close``,
unread. A request alone is never refused here: the per-source size limit answers that one.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import GatewayError, Unavailable
from gateway.memory import MemoryTrim
from gateway.protocol_errors import refusal
from gateway.responses import send_json

RETRY_AFTER_SECONDS = 1


class InflightLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.in_flight = 0
        self.trim = MemoryTrim()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length: bytes | None = None
        encoding: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
            elif name == b"transfer-encoding":
                encoding = value
        if encoding is not None:
            refused = None
            if length is not None:
                refused = "ambiguous_framing"
            elif encoding.strip().lower() != b"chunked":
                # h11 refuses this before the app; httptools (uvicorn) passes e.g. "gzip, chunked".
                refused = "unsupported_transfer_encoding"
            if refused:
                status, body = refusal(refused)
                await send_json(send, status, body, {"Connection": "close"})
                return
        declared = int(length) if length is not None and length.isdigit() else 0
        if declared and self.in_flight and self.in_flight + declared > self.max_bytes:
            await _refuse(send, self._busy())
            return
        held = declared
        self.in_flight += held

        async def counted() -> Message:
            nonlocal held
            message = await receive()
            if not declared and message["type"] == "http.request":
                size = len(message.get("body", b""))
                if size and self.in_flight > held and self.in_flight + size > self.max_bytes:
                    raise self._busy()
                held += size
                self.in_flight += size
            return message

        try:
            await self.app(scope, counted if not declared else receive, send)
        finally:
            self.in_flight -= held
            self.trim.released(held, idle=self.in_flight == 0)

    def _busy(self) -> Unavailable:
        return Unavailable(f"the gateway holds {self.max_bytes} bytes of requests already "
                           "(max_inflight_bytes); retry shortly", retry_after=RETRY_AFTER_SECONDS,
                           code="busy")


async def _refuse(send: Send, error: GatewayError) -> None:
    headers: dict[str, Any] = {**error.headers, "Connection": "close"}
    await send_json(send, error.status, orjson.dumps(error.body()), headers)
