"""``[server] engine = "uvicorn"``: the same gateway on the faster HTTP engine, through real sockets.

The attacker's side of the engine (timeouts for heads, head size, the parser's refusals) runs on both
engines in ``tests/reliability/test_slow_clients.py`` and ``test_protocol_errors.py``; the seeds on
both in ``tests/segment_style/test_http_seeds.py``; SIGTERM in ``tests/test_durability.py``.
"""

from __future__ import annotations

import base64
import socket
import threading
import uuid

import httpx
import orjson
import pytest

from tests.conftest import GatewayFactory
from tests.sqlite_sink.support import GATEWAY_CONFIG, count_rows, rows, sqlite_sink_table
from tests.support.server import RunningGateway, wait_until

pytestmark = pytest.mark.timeout(120)

UVICORN = '\n[server]\nengine = "uvicorn"\n'


def test_two_uvicorn_workers_share_the_port_and_every_acknowledged_event_reaches_the_sqlite_sink(
        gateway_factory: GatewayFactory) -> None:
    gw = gateway_factory(GATEWAY_CONFIG + sqlite_sink_table() + '\n[server]\nengine = "uvicorn"\nworkers = 2\n')
    acked: list[str] = []
    pids: set[int] = set()
    problems: list[str] = []

    def client() -> None:
        for _ in range(40):
            # A new connection each time, so the kernel spreads them over both workers.
            with httpx.Client(base_url=gw.url, timeout=10) as c:
                pids.add(c.get("/ready").json()["pid"])
                message_id = str(uuid.uuid4())
                r = c.post("/v1/batch", auth=("wk_backend", ""), json={"batch": [
                    {"type": "track", "event": "Engine", "userId": "u1", "messageId": message_id}]})
                if r.status_code == 200:
                    acked.append(message_id)
                else:
                    problems.append(r.text)

    threads = [threading.Thread(target=client) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert problems == [] and len(acked) == 240
    assert len(pids) == 2, pids
    db = gw.dir / "data" / "events.db"
    wait_until(lambda: count_rows(db) >= 240, timeout=30, message="240 rows in the sink")
    assert {r["message_id"] for r in rows(db)} == set(acked)


@pytest.fixture(scope="module")
def gw(module_gateway_factory: GatewayFactory) -> RunningGateway:
    # trusted_proxies names a network the test client is not in: its X-Forwarded-For is not believed.
    gateway: RunningGateway = module_gateway_factory(
        GATEWAY_CONFIG + UVICORN + 'trusted_proxies = ["10.0.0.0/8"]\n', name="uvicorn")
    return gateway


def test_forwarded_for_from_an_untrusted_peer_is_not_believed(gw: RunningGateway) -> None:
    """uvicorn on its own believes X-Forwarded-For from 127.0.0.1: the gateway's trusted_proxies decide."""
    marker = str(uuid.uuid4())
    r = gw.post("/v1/track", auth=("wk_backend", ""), headers={"X-Forwarded-For": "203.0.113.9"},
                json={"event": marker, "userId": "u1"})
    assert r.status_code == 200, r.text
    event = gw.wait_for_stdout_events(1, where=lambda e: e["event"] == marker)[0]
    assert event["context"]["ip"] == "127.0.0.1"


def test_forwarded_for_is_believed_behind_a_trusted_proxy(gateway_factory: GatewayFactory) -> None:
    gw = gateway_factory(GATEWAY_CONFIG + UVICORN + 'trusted_proxies = ["127.0.0.0/8"]\n')
    r = gw.post("/v1/track", auth=("wk_backend", ""), json={"event": "xff", "userId": "u1"},
                headers={"X-Forwarded-For": "198.51.100.7, 203.0.113.9"})
    assert r.status_code == 200, r.text
    event = gw.wait_for_stdout_events(1, where=lambda e: e["event"] == "xff")[0]
    assert event["context"]["ip"] == "203.0.113.9"


def _raw(gw: RunningGateway, data: bytes, expect_answers: int) -> bytes:
    with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as sock:
        sock.sendall(data)
        received = b""
        while received.count(b"HTTP/1.1 ") < expect_answers or not received.endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        return received


def _track_request(marker: str, extra: str = "") -> bytes:
    body = orjson.dumps({"event": marker, "userId": "u1"})
    auth = base64.b64encode(b"wk_backend:").decode()
    return (f"POST /v1/track HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {auth}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n").encode() + body


def test_pipelined_requests_are_answered_in_order_and_all_kept(gw: RunningGateway) -> None:
    markers = [f"pipelined-{i}-{uuid.uuid4()}" for i in range(5)]
    answer = _raw(gw, b"".join(_track_request(m) for m in markers), expect_answers=5)
    assert answer.count(b"HTTP/1.1 200") == 5, answer[:500]
    events = gw.wait_for_stdout_events(5, where=lambda e: e["event"] in markers)
    assert {e["event"] for e in events} == set(markers)


@pytest.mark.parametrize("upgrade", ["websocket", "h2c"])
def test_an_upgrade_request_is_served_as_plain_http_or_refused_if_it_has_a_body(gw: RunningGateway,
                                                                                 upgrade: str) -> None:
    """No upgrade is offered, nor logged. httptools does not read the body of a request asking for one:
    such a request is refused as such, not taken as an empty body."""
    marker = f"upgrade-{uuid.uuid4()}"
    before = gw.stderr()
    with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as sock:
        sock.sendall(f"GET /v1/track HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: {upgrade}\r\n\r\n"
                     .encode())
        answer = b""
        while chunk := sock.recv(65536):  # the connection closes after the answer
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 405") and b'"method_not_allowed"' in answer, answer[:300]
    answer = _raw(gw, _track_request(marker, f"Connection: Upgrade\r\nUpgrade: {upgrade}\r\n"), 1)
    assert answer.startswith(b"HTTP/1.1 400") and b'"code":"upgrade_not_supported"' in answer, answer[:300]
    assert b"connection: close" in answer.lower()
    r = gw.post("/v1/track", auth=("wk_backend", ""), json={"event": f"after-{marker}", "userId": "u1"})
    assert r.status_code == 200
    gw.wait_for_stdout_events(1, where=lambda e: e["event"] == f"after-{marker}")
    assert not [e for e in gw.stdout_events() if e["event"] == marker]
    assert "upgrade" not in gw.stderr()[len(before):].lower()


def test_one_banner_and_no_engine_chatter_on_stderr(gw: RunningGateway) -> None:
    text = gw.stderr()
    assert text.count("listening on") == 1 and "http engine: uvicorn (httptools)" in text, text
    assert "Uvicorn running" not in text and "Started server process" not in text, text
