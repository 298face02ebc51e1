"""The error shape also for the answers the HTTP server gives itself, before a request reaches the app.

The answers (``REFUSALS``) serve both engines; the rest of this module is Hypercorn's side (uvicorn's:
``gateway.uvicorn_server``).

When h11 cannot parse a request (a header block past its size limit: 431; a malformed request
line, conflicting Content-Length values: 400; a Transfer-Encoding other than one ``chunked``: 501),
Hypercorn answers with an empty body and closes the connection. SDKs then see an error without
``code``. The 501 becomes a 400 here: h11 follows RFC 9112's "SHOULD" for a transfer coding it does
not implement, but the coding is the client's choice, and only the gateway's own faults answer 5xx
(a client's retry policy resends a 5xx, which would never succeed).

Hypercorn 0.18 offers no hook for these answers: no config key, no callback, no ASGI event (the
app never sees such a request). So this module replaces the one method that writes them,
``H11Protocol._send_error_response``, with one that writes the same status and
``Connection: close`` plus a JSON body. It is a private method: should a Hypercorn release rename
or reshape it, ``install`` leaves Hypercorn as it is and logs a warning, and
``tests/reliability/test_protocol_errors.py`` fails. HTTP/2 has no such answers in Hypercorn
(h2 protocol errors reset the stream or connection, with no body to shape).
"""

from __future__ import annotations

import inspect
import logging
import time
from itertools import chain
from typing import Any

import h11
import orjson

log = logging.getLogger("gateway")

# What a request the HTTP layer refuses is told: its status and message, by the error's code. Both
# engines answer from here (uvicorn's parser refusals: ``gateway.uvicorn_server``).
REFUSALS = {
    "bad_request": (400, "the request is not valid HTTP/1.1 (request line, header syntax or message framing)"),
    "header_too_large": (431, "the request's header block is too large or has too many fields"),
    "unsupported_transfer_encoding": (400, "the only Transfer-Encoding accepted is one 'chunked' (or none, "
                                           "with Content-Length)"),
    "ambiguous_framing": (400, "the request has both Transfer-Encoding and Content-Length; send one of them"),
    "websocket_not_supported": (400, "the gateway serves no WebSocket: send the request as plain HTTP, without "
                                     "'Upgrade: websocket'"),
    "upgrade_not_supported": (400, "a request with a body cannot ask for a protocol upgrade here (the gateway "
                                   "serves plain HTTP/1.1): send it without 'Connection: Upgrade'"),
}
# h11's refusal status -> the code the client is told.
_H11_CODES = {400: "bad_request", 431: "header_too_large", 501: "unsupported_transfer_encoding"}


def refusal(code: str, status: int | None = None) -> tuple[int, bytes]:
    """The status and JSON body of the HTTP layer's refusal ``code`` (a key of ``REFUSALS``);
    ``status`` when the server's own status is kept (a WebSocket handshake's 400 or 403)."""
    default, message = REFUSALS[code]
    status = status or default
    return status, orjson.dumps({"code": code, "message": message, "detail": {"status": status}})


def answer_for(status: int) -> tuple[int, bytes]:
    """The status and JSON body the client gets for h11's refusal with ``status``."""
    code = _H11_CODES.get(status)
    if code is not None:
        return refusal(code)
    return status, orjson.dumps({"code": "http_error", "message": f"the request was refused with HTTP {status}",
                                 "detail": {"status": status}})


async def _send_json_error_response(self: Any, status_code: int) -> None:
    status_code, body = answer_for(status_code)
    headers = chain([(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                     (b"connection", b"close")], self.config.response_headers("h11"))
    await self._send_h11_event(h11.Response(status_code=status_code, headers=list(headers)))
    await self._send_h11_event(h11.Data(data=body))
    await self._send_h11_event(h11.EndOfMessage())


async def _send_json_websocket_refusal(self: Any, status_code: int) -> None:
    # Hypercorn's WebSocket stream refuses a handshake (400: invalid; 403: the app has no WebSocket
    # route) with an empty body. Whichever, the reason is the same here.
    from hypercorn.protocol.events import Body, EndBody, Response

    _, body = refusal("websocket_not_supported", status_code)
    await self.send(Response(stream_id=self.stream_id, status_code=status_code, headers=[
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close")]))
    await self.send(Body(stream_id=self.stream_id, data=body))
    await self.send(EndBody(stream_id=self.stream_id))
    await self.config.log.access(self.scope, {"status": status_code, "headers": []}, time.time() - self.start_time)


def _replace(cls: Any, replacement: Any, what: str) -> bool:
    original = getattr(cls, "_send_error_response", None)
    if original is replacement:
        return True
    if original is None or list(inspect.signature(original).parameters) != ["self", "status_code"]:
        log.warning("this Hypercorn version writes its own %s differently: they stay without a JSON body", what)
        return False
    cls._send_error_response = replacement
    return True


def install() -> bool:
    """Make Hypercorn's own HTTP/1.1 error answers and WebSocket refusals JSON; False (and a warning)
    when it cannot."""
    try:
        from hypercorn.protocol.h11 import H11Protocol
        from hypercorn.protocol.ws_stream import WSStream
    except ImportError:
        return False
    return (_replace(H11Protocol, _send_json_error_response, "4xx answers")
            & _replace(WSStream, _send_json_websocket_refusal, "WebSocket refusals"))
