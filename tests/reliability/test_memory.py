"""Request bytes in flight are capped, and memory settles back after a burst of big batches.

From the repro: 8 clients posting 4 MB batches for 30 s took the RSS from 96 MB to 885 MB, never
returned; 32 clients took 2 GB. Now ``[server] max_inflight_bytes`` answers 503 + Retry-After before
a body is read once that many request bytes are held, and freed memory is handed back when idle.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.reliability.support import SEGMENT_KEY, assert_json_error, config, right_auth
from tests.support.server import RunningGateway, wait_until

pytestmark = pytest.mark.timeout(240)

AUTH = right_auth("segment_style")["headers"]["Authorization"]
MB = 1024 * 1024


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def big_batch(target_bytes: int, tag: str) -> bytes:
    event = {"type": "track", "event": "Heavy", "userId": "u1", "properties": {"blob": "x" * 300, "tag": tag}}
    one = len(json.dumps(event)) + 2
    return json.dumps({"batch": [event] * (target_bytes // one)}).encode()


def head(length: bytes | None, chunked: bool = False) -> bytes:
    lines = [b"POST /v1/batch HTTP/1.1", b"Host: x", b"Authorization: " + AUTH.encode(),
             b"Content-Type: application/json"]
    lines.append(b"Transfer-Encoding: chunked" if chunked else b"Content-Length: " + (length or b"0"))
    return b"\r\n".join(lines) + b"\r\n\r\n"


def read_answer(sock: socket.socket) -> bytes:
    sock.settimeout(15)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_past_max_inflight_bytes_requests_get_503_before_their_body(gateway_factory: Any) -> None:
    gw: RunningGateway = gateway_factory(config(server={"max_inflight_bytes": 5 * MB}))
    holder = socket.create_connection(("127.0.0.1", gw.port))
    try:
        # One request holds 4 MB (declared) and sends its body slowly: the cap is now nearly used.
        holder.sendall(head(str(4 * MB).encode()) + b'{"batch": [')
        time.sleep(0.5)
        with socket.create_connection(("127.0.0.1", gw.port)) as second:
            second.sendall(head(str(2 * MB).encode()))  # headers only: no byte of the body yet
            answer = read_answer(second)
        status_line, _, rest = answer.partition(b"\r\n")
        assert b" 503 " in status_line, answer[:400]
        assert b"retry-after: 1" in rest.lower() and b"connection: close" in rest.lower(), answer[:400]
        # A streamed (chunked) body is counted as it arrives, and refused once past the cap.
        with socket.create_connection(("127.0.0.1", gw.port)) as third:
            third.sendall(head(None, chunked=True))
            piece = b"x" * (512 * 1024)
            try:
                for _ in range(8):
                    third.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            except OSError:
                pass  # refused and closed mid-upload
            answer = read_answer(third)
        assert b" 503 " in answer.partition(b"\r\n")[0], answer[:400]
        # Small requests alongside are still taken while the cap has room.
        r = gw.post("/v1/track", json={"userId": "u1", "event": "Small"}, auth=(SEGMENT_KEY, ""))
        assert r.status_code == 200, r.text
    finally:
        holder.close()
    # With the holder gone, a big request is taken again.
    r = gw.post("/v1/batch", content=big_batch(3 * MB, "after"), headers={"Authorization": AUTH,
                                                                          "Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    assert_json_error(gw.post("/v1/batch", content=b"{", headers={"Authorization": AUTH}), 400)


CLIENTS = 8
ROUNDS = 3
# What the process may hold after the burst: its idle size plus this. The repro kept ~800 MB.
SETTLED_ABOVE_IDLE = 200 * MB
PEAK_ABOVE_IDLE = 640 * MB


def test_rss_settles_after_a_burst_of_4mb_batches(gateway_factory: Any) -> None:
    gw: RunningGateway = gateway_factory(config())
    assert gw.process is not None
    pid = gw.process.pid
    body = big_batch(4 * MB - 4096, "burst")
    warm = gw.post("/v1/batch", content=body, headers={"Authorization": AUTH, "Content-Type": "application/json"})
    assert warm.status_code == 200, warm.text
    time.sleep(2)
    idle = rss_bytes(pid)
    peak = [idle]
    statuses: list[int] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_bytes(pid))
            time.sleep(0.05)

    def client() -> None:
        with httpx.Client(base_url=gw.url, timeout=120) as c:
            for _ in range(ROUNDS):
                for _attempt in range(60):  # as an SDK does: a 503 is retried after Retry-After
                    r = c.post("/v1/batch", content=body, headers={"Authorization": AUTH,
                                                                   "Content-Type": "application/json"})
                    statuses.append(r.status_code)
                    if r.status_code != 503:
                        break
                    time.sleep(float(r.headers["Retry-After"]))

    sampler = threading.Thread(target=sample)
    sampler.start()
    clients = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for t in clients:
        t.start()
    for t in clients:
        t.join()
    done.set()
    sampler.join()
    assert set(statuses) <= {200, 503} and statuses.count(200) == CLIENTS * ROUNDS, statuses
    # The default cap (16 MiB) lets four 4 MB batches in at once; the repro's eight took 800 MB more.
    assert peak[0] <= idle + PEAK_ABOVE_IDLE, f"peak {peak[0] // MB} MB, idle {idle // MB} MB"
    settled = wait_until(lambda: (rss := rss_bytes(pid)) <= idle + SETTLED_ABOVE_IDLE and rss, timeout=20,
                         interval=0.5, message=f"RSS back under {(idle + SETTLED_ABOVE_IDLE) // MB} MB")
    print(f"RSS idle {idle // MB} MB, peak {peak[0] // MB} MB, settled {settled // MB} MB; "
          f"{statuses.count(200)} accepted, {statuses.count(503)} told to retry")
