"""The optional HTTP engine, ``[server] engine = "uvicorn"``: uvicorn with the httptools parser.

It does a small request's HTTP work in about a quarter of Hypercorn's CPU, so a single-event route
answers about twice as many requests on the same core (``bench/README.md``). What Hypercorn does
for the gateway and uvicorn does not, this module adds, so a client sees one gateway whichever
engine runs:

- a request head must arrive whole within ``body_timeout_seconds`` of its first byte (or of the
  connection's start): uvicorn has no such timeout, and a client trickling a head, or connecting
  and sending nothing, would hold its connection for good;
- a head may be at most ``MAX_HEAD_BYTES``, as h11's default in Hypercorn: httptools buffers a
  header of any size;
- the parser's refusals are answered in the error shape (``gateway.protocol_errors``), not as
  uvicorn's plain-text 400, and without a log line each (a hostile client could fill the log); the
  client's remaining bytes are read and dropped for a moment before the close, so the answer is not
  lost to a reset, and a refusal never cuts into the answer of a request before it (pipelined);
- no protocol upgrade is served (nor logged). One difference stays: httptools cannot read the body
  of a request that asks for an upgrade, so such a request with a body is refused with 400
  ``upgrade_not_supported`` where Hypercorn serves it; without a body it is served, then the
  connection closed;
- ``X-Forwarded-For`` is left to the gateway's ``trusted_proxies`` (uvicorn would believe it from
  127.0.0.1 by default), and the worker's own signal handlers say when to stop.

The app's lifespan is run here around the server, as with Hypercorn, so a start-up that fails is
one line (``gateway.startup``) and shutdown waits for in-flight requests before the log closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
from collections.abc import Iterator
from typing import Any

import httptools
import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from gateway import startup
from gateway.config import Config
from gateway.protocol_errors import refusal

# h11's default limit for a request's head (request line and headers), which Hypercorn applies.
MAX_HEAD_BYTES = 16 * 1024
# After a refusal, how long what the client still sends is read and dropped before the connection
# closes: closed at once with unread bytes, the kernel resets the connection, and a client still
# sending its head (a 90 KB one) would get the reset instead of the answer.
LINGER_SECONDS = 2.0


class GatewayHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a head deadline, a head size cap and JSON refusals."""

    def __init__(self, *args: Any, head_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.head_timeout = head_timeout
        self._head_deadline: asyncio.TimerHandle | None = None
        self._in_head = True
        self._head_received = 0  # bytes received while a head was incomplete: what httptools buffers
        self._head_parsed = 0  # bytes of the current head's request target and complete headers
        self._refusal: str | None = None  # set by a parser callback that refuses the request
        self._refused = False  # answered and closing: what arrives now is read and dropped

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        self._unset_keepalive_if_required()
        if self._in_head:
            self._head_received += len(data)
            self._arm_head_deadline()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            pass  # no WebSocket or other upgrade is served: the request goes on as plain HTTP
        except httptools.HttpParserCallbackError:
            self._refuse(self._refusal or "bad_request")
            return
        except httptools.HttpParserError as exc:
            self._refuse(_code_for(str(exc)))
            return
        if self._in_head and self._head_received > MAX_HEAD_BYTES:
            self._refuse("header_too_large")

    # Parser callbacks: count the head as it is parsed (a head may arrive in one read, whole).
    def on_message_begin(self) -> None:
        self._head_parsed = 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_received = 0
        self._disarm_head_deadline()
        upgrade = self.parser.should_upgrade()
        if upgrade and self._declares_body():
            # llhttp hands everything after an upgrade request's head to the new protocol, its body
            # included: served, the request would reach the app with an empty body.
            self._refusal = "upgrade_not_supported"
            raise ValueError("upgrade with a body")
        super().on_headers_complete()
        if upgrade:  # llhttp reads nothing more on this connection: close it after the answer
            self.cycle.keep_alive = False

    def on_message_complete(self) -> None:
        self._in_head = True  # what comes next on this connection is the next request's head
        super().on_message_complete()

    def _declares_body(self) -> bool:
        return any(name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0")
                   for name, value in self.headers)

    def _count_head(self, size: int) -> None:
        self._head_parsed += size
        if self._head_parsed > MAX_HEAD_BYTES:
            self._refusal = "header_too_large"
            raise OverflowError("request head too large")  # httptools stops and raises its callback error

    def _arm_head_deadline(self) -> None:
        if self._head_deadline is None:
            self._head_deadline = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _disarm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        if self._in_head and not self.transport.is_closing():
            self.transport.close()

    def _refuse(self, code: str) -> None:
        self._disarm_head_deadline()
        self._refused = True
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            if cycle.response_started or not cycle.more_body:
                # An answer is under way, or its request was whole and the refused bytes came after
                # it (pipelined): that answer goes out alone, then the connection closes.
                cycle.keep_alive = False
                self.flow.pause_reading()
                return
            # The refused bytes were this request's own body: the refusal is its answer, and the app,
            # still reading the body, hears that the client is gone.
            cycle.disconnected = True
            cycle.message_event.set()
        status, body = refusal(code)
        head = [STATUS_LINE[status], *(name + b": " + value + b"\r\n" for name, value in
                                       self.server_state.default_headers),
                b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % len(body)]
        self.transport.write(b"".join(head) + body)
        if self.transport.can_write_eof():
            self.transport.write_eof()  # the answer, then FIN; what the client still sends is dropped
            self.loop.call_later(LINGER_SECONDS, self.transport.close)
        else:
            self.transport.close()


def _code_for(parser_message: str) -> str:
    """The refusal code for llhttp's reason (the reason is not shown: it names parser internals)."""
    if "Transfer-Encoding" in parser_message:
        return "ambiguous_framing" if "Content-Length" in parser_message else "unsupported_transfer_encoding"
    return "bad_request"


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The worker's own SIGTERM/SIGINT handlers set the stop event; uvicorn's would replace them.
        yield


def uvicorn_config(app: Any, config: Config) -> uvicorn.Config:
    protocol = functools.partial(GatewayHttpProtocol, head_timeout=config.server.body_timeout_seconds)
    return uvicorn.Config(
        app, http=protocol,  # type: ignore[arg-type]
        ws="none", lifespan="off", interface="asgi3", log_config=None, access_log=False,
        proxy_headers=False,  # context.ip comes from [server] trusted_proxies alone
        backlog=startup.BACKLOG,  # uvicorn listens on the supervisor's socket again, with this backlog
        # Both are only handed to call_later and asyncio.timeout: fractions of a second are kept.
        timeout_keep_alive=config.server.keep_alive_seconds,  # type: ignore[arg-type]
        timeout_graceful_shutdown=config.server.graceful_timeout_seconds,  # type: ignore[arg-type]
    )


async def serve_uvicorn(app: Any, config: Config, sock: socket.socket, stop: asyncio.Event) -> None:
    """Serve ``app`` on the bound ``sock`` until ``stop`` is set, then finish in-flight requests."""
    # uvicorn's info lines repeat what the banner says; its warnings and errors are kept.
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    server = _Server(uvicorn_config(app, config))
    async with app.router.lifespan_context(app):
        serving = asyncio.ensure_future(server.serve(sockets=[sock]))
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        server.should_exit = True
        stopping.cancel()
        await serving
