"""A real HTTP receiver on 127.0.0.1 for tests of outgoing webhooks.

It records every request (headers and body) and answers as told, switchable while a test runs:
succeed, fail (any status, optionally with ``Retry-After``), answer slowly, hang, drop the
connection, or be down altogether (nothing listens on its port until ``up()``).

    with Receiver() as receiver:
        receiver.fail(503, retry_after=1)      # every request until told otherwise
        receiver.script(Answer(500), Answer(200))  # the next two requests, then the default
        ...
        receiver.succeed()
        receiver.wait_for(lambda r: len(r.delivered()) >= 3)
        events = receiver.events()             # the JSON arrays of 2xx-answered requests, flattened
"""

from __future__ import annotations

import gzip
import json
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_HANG_SECONDS = 120.0  # a hanging answer never outlives a test run


@dataclass(frozen=True)
class Answer:
    """How to answer one request. ``hang`` holds it until ``release()``/``close()``; ``drop``
    closes the connection without any answer."""

    status: int = 200
    body: bytes = b'{"ok": true}'
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    hang: bool = False
    drop: bool = False


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes              # as sent (still gzipped when it was)
    at: float
    status: int | None = None  # what it was answered; None while pending or when dropped

    @property
    def content(self) -> bytes:
        """The body with any gzip Content-Encoding undone."""
        if self.headers.get("content-encoding", "").lower() == "gzip":
            return gzip.decompress(self.body)
        return self.body

    def json(self) -> Any:
        return json.loads(self.content)

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # closing must not wait for idle keep-alive connections
    allow_reuse_address = True
    receiver: Receiver

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up mid-request is routine here (its timeout, its shutdown, down()).
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.receiver._connections.add(self.connection)

    def finish(self) -> None:
        self.server.receiver._connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests read requests from the receiver, not from stderr

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _handle(self) -> None:
        receiver = self.server.receiver
        record = Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                          self._read_body(), time.monotonic())
        answer = receiver._record(record)
        if answer.hang:
            receiver._released.wait(MAX_HANG_SECONDS)
        elif answer.delay:
            time.sleep(answer.delay)
        if answer.drop:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        # Recorded before the answer leaves, so once the client has it, so does the test.
        receiver._answered(record, answer.status)
        try:
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)
            self.wfile.flush()
        except OSError:
            receiver._answered(record, None)  # the client gave up (its timeout): it got no answer

    do_POST = do_PUT = do_GET = do_PATCH = do_DELETE = _handle


class Receiver:
    def __init__(self, path: str = "/hook") -> None:
        self.path = path
        self.port = 0
        self._lock = threading.Condition()
        self._requests: list[Received] = []
        self._default = Answer()
        self._script: list[Answer] = []
        self._released = threading.Event()
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- life -----------------------------------------------------------------------------------
    def up(self) -> Receiver:
        """Listen (again, on the same port once it has one)."""
        if self._server is not None:
            return self
        self._released.clear()
        server = _Server(("127.0.0.1", self.port), _Handler)
        server.receiver = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"receiver:{self.port}", daemon=True)
        self._thread.start()
        return self

    def down(self) -> None:
        """Stop listening and cut every open connection: the port refuses connections."""
        server, self._server = self._server, None
        self._released.set()
        if server is None:
            return
        server.shutdown()
        for conn in list(self._connections):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    close = down

    def __enter__(self) -> Receiver:
        return self.up()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    # -- behaviour ------------------------------------------------------------------------------
    def respond(self, answer: Answer) -> None:
        """Answer every request so from now on (after any scripted answers)."""
        with self._lock:
            self._default = answer
        if not answer.hang:
            self._released.set()
        else:
            self._released.clear()

    def succeed(self, status: int = 200) -> None:
        self.respond(Answer(status))

    def fail(self, status: int = 500, retry_after: float | None = None) -> None:
        headers = {"Retry-After": str(int(retry_after))} if retry_after is not None else {}
        self.respond(Answer(status, b'{"error": "told to fail"}', headers))

    def slow(self, seconds: float, status: int = 200) -> None:
        self.respond(Answer(status, delay=seconds))

    def hang(self) -> None:
        self.respond(Answer(hang=True))

    def release(self) -> None:
        """Let hanging requests answer (with the current default's status)."""
        self._released.set()

    def script(self, *answers: Answer) -> None:
        """The next requests get these answers, one each, before the default applies again."""
        with self._lock:
            self._script.extend(answers)

    # -- what came ------------------------------------------------------------------------------
    def _record(self, record: Received) -> Answer:
        with self._lock:
            self._requests.append(record)
            self._lock.notify_all()
            return self._script.pop(0) if self._script else self._default

    def _answered(self, record: Received, status: int | None) -> None:
        with self._lock:
            record.status = status
            self._lock.notify_all()

    @property
    def requests(self) -> list[Received]:
        with self._lock:
            return list(self._requests)

    def delivered(self) -> list[Received]:
        """Requests answered 2xx."""
        return [r for r in self.requests if r.ok]

    def events(self) -> list[Any]:
        """Every item of the JSON arrays of 2xx-answered requests, in arrival order."""
        return [item for r in self.delivered() for item in r.json()]

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    def wait_for(self, predicate: Callable[[Receiver], Any], timeout: float = 15.0,
                 message: str = "receiver condition") -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate(self)
            if value:
                return value
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{message} not met within {timeout}s; "
                                     f"{len(self.requests)} request(s) received")
            with self._lock:
                self._lock.wait(min(left, 0.1))

    def wait_for_requests(self, n: int, timeout: float = 15.0) -> list[Received]:
        return list(self.wait_for(lambda r: len(r.requests) >= n and r.requests, timeout,
                                  f"{n} request(s)"))

    def wait_for_events(self, n: int, timeout: float = 15.0) -> list[Any]:
        """The first ``n`` (or more) delivered events, waiting for them."""
        return list(self.wait_for(lambda r: len(r.events()) >= n and r.events(), timeout,
                                  f"{n} delivered event(s)"))
