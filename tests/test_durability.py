"""A 2xx means committed: group commit observed from the database, kill -9, SIGTERM, a locked log."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import PROBE_CONFIG, GatewayFactory
from tests.support.server import wait_until

KEY = ("probe-write-key", "")


def log_ids(db_path: Path) -> set[str]:
    with sqlite3.connect(db_path) as db:
        rows = db.execute("SELECT json_extract(CAST(event AS TEXT), '$.messageId') FROM event_log").fetchall()
    return {r[0] for r in rows}


def test_every_answer_follows_its_commit_and_commits_are_shared(gateway_factory: GatewayFactory) -> None:
    gw = gateway_factory(PROBE_CONFIG)
    db_path = gw.dir / "data" / "gateway.db"
    missing: list[str] = []
    answered: list[str] = []

    async def one(client: httpx.AsyncClient, reader: sqlite3.Connection) -> None:
        mid = str(uuid.uuid4())
        r = await client.post("/probe/track", json={"event": "gc", "messageId": mid}, auth=KEY)
        assert r.status_code == 200, r.text
        answered.append(mid)
        # Right after the answer, another connection must already see the event.
        found = reader.execute("SELECT 1 FROM event_log WHERE CAST(event AS TEXT) LIKE ?",
                               (f'%"{mid}"%',)).fetchone()
        if found is None:
            missing.append(mid)

    async def main() -> None:
        reader = sqlite3.connect(db_path)
        limits = httpx.Limits(max_connections=64)
        async with httpx.AsyncClient(base_url=gw.url, limits=limits, timeout=30) as client:
            await asyncio.gather(*(one(client, reader) for _ in range(400)))
        reader.close()

    asyncio.run(main())
    assert len(answered) == 400 and missing == []
    metrics = gw.get("/metrics").text
    commits = float(re.search(r"^gateway_group_commit_events_count (\S+)$", metrics, re.M).group(1))  # type: ignore[union-attr]
    committed_events = float(re.search(r"^gateway_group_commit_events_sum (\S+)$", metrics, re.M).group(1))  # type: ignore[union-attr]
    assert committed_events >= 400
    assert commits < 400, "concurrent requests should share transactions"


class Load:
    """Many concurrent clients posting events; remembers every messageId answered 2xx."""

    def __init__(self, url: str, clients: int = 16) -> None:
        self.url = url
        self.clients = clients
        self.acked: set[str] = set()
        self.failed = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def _client(self) -> None:
        with httpx.Client(base_url=self.url, timeout=5) as client:
            while not self._stop.is_set():
                batch = [{"event": "load", "messageId": str(uuid.uuid4())} for _ in range(5)]
                try:
                    r = client.post("/probe/batch", json={"batch": batch}, auth=KEY)
                except httpx.TransportError:
                    self.failed += 1
                    time.sleep(0.02)
                    continue
                if 200 <= r.status_code < 300:
                    with self._lock:
                        self.acked.update(e["messageId"] for e in batch)

    def start(self) -> Load:
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(self.clients)]
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=10)


def test_kill_minus_9_under_load_loses_nothing_acknowledged(gateway_factory: GatewayFactory) -> None:
    gw = gateway_factory(PROBE_CONFIG)
    load = Load(gw.url).start()
    try:
        for _ in range(3):
            wait_until(lambda: len(load.acked) > 200, message="load running")
            time.sleep(0.5)
            gw.kill()
            gw.start()
        time.sleep(0.5)
    finally:
        load.stop()
    acked = set(load.acked)
    assert len(acked) > 600
    assert acked <= log_ids(gw.dir / "data" / "gateway.db")

    def all_out() -> bool:
        return acked <= {e.get("messageId") for e in gw.stdout_events()}

    wait_until(all_out, timeout=30, message="every acknowledged event on stdout")


@pytest.mark.parametrize("engine", ["hypercorn", "uvicorn"])
def test_sigterm_finishes_in_flight_work_and_exits_cleanly(gateway_factory: GatewayFactory, engine: str) -> None:
    gw = gateway_factory(PROBE_CONFIG + f'\n[server]\nengine = "{engine}"\n')
    load = Load(gw.url, clients=8).start()
    wait_until(lambda: len(load.acked) > 100, message="load running")
    code = gw.stop()
    load.stop()
    assert code == 0, gw.stderr()[-2000:]
    acked = set(load.acked)
    assert acked <= log_ids(gw.dir / "data" / "gateway.db")
    gw.start()
    wait_until(lambda: acked <= {e.get("messageId") for e in gw.stdout_events()}, timeout=30,
               message="every acknowledged event on stdout")


LOCKER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("ROLLBACK")
"""


def test_a_locked_log_answers_503_with_retry_after_then_recovers(gateway_factory: GatewayFactory) -> None:
    config = PROBE_CONFIG.replace("[storage]\n", "[storage]\nunavailable_after_seconds = 1\n", 1)
    gw = gateway_factory(config)
    db_path = gw.dir / "data" / "gateway.db"
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(db_path), "4"], stdout=subprocess.PIPE)
    try:
        assert locker.stdout is not None and locker.stdout.readline().strip() == b"locked"
        r = gw.post("/probe/track", json={"event": "while-locked"}, auth=KEY)
        assert r.status_code == 503, r.text
        assert r.headers["Retry-After"].isdigit()
        body: dict[str, Any] = r.json()
        assert body["code"] == "unavailable" and "locked" not in body["message"].lower()
    finally:
        locker.wait(timeout=20)
        assert locker.stdout is not None
        locker.stdout.close()
    r = gw.post("/probe/track", json={"event": "after-lock"}, auth=KEY)
    assert r.status_code == 200, r.text


