"""Slow and idle clients are cut off by timeouts and do not keep other clients from being served.

Every test runs on both HTTP engines (``[server] engine``): uvicorn alone has no timeout for a request
head, so a silent or trickling connection would be held for good.
"""

from __future__ import annotations

import base64
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.reliability.support import SEGMENT_KEY, STDOUT, config, post_events
from tests.support.server import RunningGateway

pytestmark = pytest.mark.timeout(90)

BODY_TIMEOUT = 2


@pytest.fixture(scope="module", params=["hypercorn", "uvicorn"])
def gw(module_gateway_factory: Any, request: pytest.FixtureRequest) -> RunningGateway:
    gateway: RunningGateway = module_gateway_factory(
        config(STDOUT, server={"body_timeout_seconds": BODY_TIMEOUT, "keep_alive_seconds": 2,
                               "engine": request.param}), name=f"slow-{request.param}")
    return gateway


class Others:
    """Ordinary clients posting events the whole time; counts what they got."""

    def __init__(self, url: str, clients: int = 4) -> None:
        self.url = url
        self.ok = 0
        self.failed: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=5) as client:
            while not self._stop.is_set():
                try:
                    r = post_events(client, "segment_style", [str(uuid.uuid4())])
                except httpx.TransportError as exc:
                    self.failed.append(repr(exc))
                    continue
                if r.status_code == 200:
                    self.ok += 1
                else:
                    self.failed.append(r.text)

    def __enter__(self) -> Others:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=10)


def connect(gw: RunningGateway) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", gw.port), timeout=BODY_TIMEOUT * 5)
    return sock


def request_head(path: str, length: int, extra: str = "") -> bytes:
    basic = base64.b64encode(f"{SEGMENT_KEY}:".encode()).decode()
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {basic}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {length}\r\n{extra}\r\n").encode()


def read_answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or the socket times out)."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return data


def trickle(gw: RunningGateway, results: list[bytes], stop: threading.Event) -> None:
    """Send a body one byte at a time, far slower than the body timeout allows."""
    body = b'{"type": "track", "event": "slow", "userId": "u"}'
    with connect(gw) as sock:
        sock.sendall(request_head("/v1/track", len(body)))
        for byte in body:
            if stop.is_set():
                break
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break  # cut off: that is the point
            time.sleep(0.25)
        results.append(read_answer(sock))


def test_trickled_bodies_get_408_and_others_are_served_meanwhile(gw: RunningGateway) -> None:
    results: list[bytes] = []
    stop = threading.Event()
    slow = [threading.Thread(target=trickle, args=(gw, results, stop), daemon=True) for _ in range(20)]
    started = time.monotonic()
    with Others(gw.url) as others:
        for t in slow:
            t.start()
        for t in slow:
            t.join(timeout=BODY_TIMEOUT * 8)
    stop.set()
    assert len(results) == 20
    for answer in results:
        assert answer.startswith(b"HTTP/1.1 408"), answer[:300]
        assert b'"code":"request_timeout"' in answer and b"connection: close" in answer.lower()
    # Cut off by the body timeout, long before the trickle would have ended (~12 s).
    assert time.monotonic() - started < BODY_TIMEOUT * 4
    assert others.failed == [] and others.ok >= 20, (others.ok, others.failed[:3])
    assert not any(e.get("event") == "slow" for e in gw.stdout_events())


def test_idle_and_half_sent_connections_are_closed_and_do_not_starve_others(gw: RunningGateway) -> None:
    idle = [connect(gw) for _ in range(30)]  # connected, never a byte
    half = []
    for _ in range(30):  # a request head cut off in the middle
        sock = connect(gw)
        sock.sendall(request_head("/v1/track", 10)[:40])
        half.append(sock)
    held = []
    for _ in range(30):  # a whole head, then the body never comes
        sock = connect(gw)
        sock.sendall(request_head("/v1/track", 100))
        held.append(sock)
    try:
        with Others(gw.url) as others:
            time.sleep(1.0)
        assert others.failed == [] and others.ok >= 10, (others.ok, others.failed[:3])
        deadline = time.monotonic() + BODY_TIMEOUT * 5
        for sock in idle + half + held:
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            answer = read_answer(sock)  # returns when the server closes the connection
            assert time.monotonic() < deadline, "a connection was held open past the timeouts"
            if sock in held:  # the body timeout answers, unless the idle-read timeout closed it first
                assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer[:200]
    finally:
        for sock in idle + half + held:
            sock.close()
    r = gw.post("/v1/track", json={"type": "track", "event": "after", "userId": "u"}, auth=(SEGMENT_KEY, ""))
    assert r.status_code == 200


@pytest.mark.parametrize(("path", "extra"), [
    ("/events", "Authorization: Bearer wrong-key\r\n"),  # refused before the body is read
    ("/v1/track", ""),  # declared longer than the limit: refused from the head alone
    ("/api/v1/sources", ""),  # the admin key is checked before the body is read
    ("/no/such/route", ""),
])
def test_an_answer_before_the_body_closes_the_connection_cleanly(gw: RunningGateway, path: str,
                                                                   extra: str) -> None:
    """Answered before the body arrived, the connection cannot carry another request: the answer says so."""
    length = 10 * 1024 * 1024 if extra == "" and path == "/v1/track" else 5000
    head = request_head(path, length).replace(b"\r\n\r\n", f"\r\n{extra}\r\n".encode()) if extra else \
        request_head(path, length)
    if extra:
        head = head.replace(b"Authorization: Basic", b"X-Was-Authorization: Basic")
    with connect(gw) as sock:
        sock.sendall(head + b"{" * 100)
        answer = read_answer(sock)
    status = answer.split(b" ", 2)[1]
    assert status in (b"401", b"404", b"413"), answer[:300]
    assert b"connection: close" in answer.lower(), answer[:500]


@pytest.fixture
def many_clients(gw: RunningGateway) -> Iterator[list[httpx.Client]]:
    clients = [httpx.Client(base_url=gw.url, timeout=5) for _ in range(8)]
    yield clients
    for c in clients:
        c.close()


def test_a_keep_alive_client_reuses_its_connection_after_an_early_error(
        gw: RunningGateway, many_clients: list[httpx.Client]) -> None:
    """Early refusals must not break the next request on the same keep-alive client."""
    for client in many_clients:
        for _ in range(15):
            r = client.post("/events", content=b"x" * 20000, headers={"Authorization": "Bearer wrong"})
            assert r.status_code == 401
            r = client.post("/api/v1/sources", json={"name": "x"})
            assert r.status_code == 401
            assert post_events(client, "segment_style", [str(uuid.uuid4())]).status_code == 200


def test_a_request_head_trickled_byte_by_byte_is_cut_off(gw: RunningGateway) -> None:
    """Slowloris: a head that never ends is dropped by the idle timeout, though bytes keep coming."""
    head = request_head("/v1/track", 10) + b"X-Slow: " + b"a" * 200
    started = time.monotonic()
    with Others(gw.url, clients=2) as others, connect(gw) as sock:
        for byte in head:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the server read a trickled head for 40 s without cutting it off")
    assert time.monotonic() - started < 20
    assert others.failed == [] and others.ok >= 5, (others.ok, others.failed[:3])


def test_an_idle_keep_alive_connection_is_closed_after_keep_alive_seconds(gw: RunningGateway) -> None:
    body = b'{"type": "track", "event": "kept", "userId": "u"}'
    with connect(gw) as sock:
        sock.sendall(request_head("/v1/track", len(body)) + body)
        answer = b""
        while not answer.endswith(b"}"):
            answer += sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
        answered = time.monotonic()
        sock.settimeout(10)
        assert read_answer(sock) == b""  # the server closes the idle connection: recv gives b""
        idle = time.monotonic() - answered
    assert 1.5 < idle < 2 + 2.5, idle  # keep_alive_seconds = 2
