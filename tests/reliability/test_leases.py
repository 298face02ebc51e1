"""Several gateway hosts on one real PostgreSQL, a real receiver, bounded load, and the faults of
docs/scaling.md in turn: every messageId answered 200 reaches the webhook receiver, stdout and the
SQLite sink; duplicates stay within the stated bound; delivery resumes within the stated failover time.

Bounds asserted (docs/scaling.md, with this test's ``lease_seconds = 5``): after a delivering process
is paused past its lease, new events are delivered within FAILOVER_BOUND seconds; duplicates per fault
are at most the batches in flight (partitions x batch_max_events per sink and per process that lost its
leases). Seqs start past 2**31, so every sink takes 64-bit seqs.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.conftest import PROBE_CONFIG, GatewayFactory
from tests.support.postgres import Postgres, query
from tests.support.receiver import Receiver
from tests.support.server import RunningGateway, wait_until

pytestmark = pytest.mark.timeout(420)

KEY = ("probe-write-key", "")
LEASE = 5.0
PARTITIONS = 4
BATCH = 25
FAILOVER_BOUND = LEASE + LEASE / 4 + 6.0  # lease + one heartbeat + slack for a loaded 2-core machine
FAULTS = 7
DUPLICATE_BOUND = FAULTS * PARTITIONS * BATCH * 2  # per fault: each partition's batch in flight, 2 sinks' worth


class Load:
    """Clients posting batches of known messageIds to every host in turn; ``acked`` is what got 200."""

    def __init__(self, hosts: list[RunningGateway], clients: int = 3) -> None:
        self.hosts = hosts
        self.acked: list[str] = []
        self.statuses: Counter[int] = Counter()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(clients)]

    def _run(self, index: int) -> None:
        n = index
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set():
                host = self.hosts[n % len(self.hosts)]
                n += 1
                ids = [str(uuid.uuid4()) for _ in range(10)]
                try:
                    r = client.post(f"{host.url}/probe/batch", auth=KEY,
                                    json={"batch": [{"event": "load", "messageId": i} for i in ids]})
                except httpx.TransportError:
                    time.sleep(0.1)
                    continue
                with self._lock:
                    self.statuses[r.status_code] += 1
                    if r.status_code == 200:
                        self.acked.extend(ids)
                    else:
                        assert r.status_code == 503 and r.headers.get("Retry-After"), r.text
                time.sleep(0.05)

    def start(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> list[str]:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=20)
        return list(self.acked)


def config(url: str, receiver: Receiver, events_db: Path) -> str:
    return PROBE_CONFIG.replace('url = "sqlite+aiosqlite:///data/gateway.db"', f'url = "{url}"\npartitions = '
                                f'{PARTITIONS}') + f"""
[delivery]
lease_seconds = {LEASE}

[[sinks]]
name = "partner"
type = "webhook"
target = "{receiver.url}"
batch_max_events = {BATCH}
retry_initial_seconds = 0.2
allow_private_targets = true

[[sinks]]
name = "events-db"
type = "sqlite"
url = "sqlite+aiosqlite:///{events_db}"
batch_max_events = {BATCH}
""".replace('name = "console"\ntype = "stdout"', f'name = "console"\ntype = "stdout"\nbatch_max_events = {BATCH}')


def delivery_pids(url: str) -> list[int]:
    """Delivery processes alive, those holding leases first."""
    now = query(url, "SELECT extract(epoch from clock_timestamp())")[0][0]
    rows = query(url, f"SELECT owner FROM sink_cursors WHERE expires_at > {now} AND owner IS NOT NULL")
    holding = Counter(int(r[0].split("/")[1]) for r in rows)
    return [pid for pid, _ in holding.most_common()]


def post_markers(hosts: list[RunningGateway], tag: str) -> list[str]:
    ids = []
    for host in hosts:
        batch = [str(uuid.uuid4()) for _ in range(3)]
        r = host.post("/probe/batch", json={"batch": [{"event": tag, "messageId": i} for i in batch]}, auth=KEY)
        assert r.status_code == 200, r.text
        ids += batch
    return ids


def seen(receiver: Receiver, hosts: list[RunningGateway], events_db: Path) -> tuple[Counter[str], Counter[str],
                                                                                   set[str]]:
    hooked = Counter(e["messageId"] for e in receiver.events())
    printed = Counter(e.get("messageId") for h in hosts for e in h.stdout_events())
    stored: set[str] = set()
    if events_db.exists():
        with sqlite3.connect(events_db) as conn:
            stored = {r[0] for r in conn.execute("SELECT message_id FROM events")}
    return hooked, printed, stored


def test_faults_lose_nothing_and_fail_over_in_bounds(postgres: Postgres, gateway_factory: GatewayFactory,
                                                    tmp_path: Path) -> None:
    if not postgres.controllable:
        pytest.skip("needs the tests' own PostgreSQL cluster (it is stopped and restarted)")
    events_db = tmp_path / "events.db"
    with postgres.database("leases") as url, Receiver() as receiver:
        text_config = config(url, receiver, events_db)
        hosts = [gateway_factory(text_config, name="host-a")]
        # A log that has run long: every sink sees seqs past 2**31.
        query(url, f"SELECT setval(pg_get_serial_sequence('event_log', 'seq'), {2**31 + 5})")
        hosts.append(gateway_factory(text_config, name="host-b"))
        wait_until(lambda: len(delivery_pids(url)) == 2, timeout=30, message="both hosts hold leases")
        load = Load(hosts).start()
        markers: list[str] = []

        def fault_window(seconds: float = 2.0) -> None:
            time.sleep(seconds)

        # 1. pg_terminate_backend of each gateway connection in turn.
        fault_window()
        for (pid,) in query(url, "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                 "AND pid <> pg_backend_pid()"):
            query(url, f"SELECT pg_terminate_backend({pid})")
            time.sleep(0.2)
        fault_window()

        # 2. SIGSTOP of a delivering process past its lease, then SIGCONT: the zombie must not write.
        victim = delivery_pids(url)[0]
        os.kill(victim, signal.SIGSTOP)
        stopped_at = time.monotonic()
        try:
            paused = post_markers(hosts, "paused")
            wait_until(lambda: set(paused) <= set(seen(receiver, hosts, events_db)[0]), timeout=FAILOVER_BOUND + 5,
                       interval=0.2, message="delivery resumed while a process is paused")
            failover = time.monotonic() - stopped_at
            time.sleep(max(0.0, LEASE + 1 - failover))
        finally:
            os.kill(victim, signal.SIGCONT)
        assert failover < FAILOVER_BOUND, f"failover took {failover:.1f}s"
        markers += paused
        fault_window()
        log_text = "".join(h.stderr() for h in hosts)
        assert "lease lost" in log_text or "could not be renewed" in log_text or "superseded" in log_text

        # 3. kill -9 of a delivering process: the supervisor restarts it; nothing is lost.
        os.kill(delivery_pids(url)[0], signal.SIGKILL)
        fault_window(3.0)
        assert "exited with signal SIGKILL; restarting" in "".join(h.stderr() for h in hosts)

        # 4. PostgreSQL restarted; 5. PostgreSQL stopped for 5 s.
        postgres.restart()
        fault_window(3.0)
        postgres.stop()
        time.sleep(5.0)
        postgres.start()
        fault_window(3.0)

        # 6. A process joining mid-load: the leases rebalance to it.
        joining = gateway_factory(text_config, name="host-c", run=False).start(wait=False)
        joining.wait_ready(timeout=120)  # three gateways and PostgreSQL on two shared cores start slowly
        hosts.append(joining)
        wait_until(lambda: len(delivery_pids(url)) == 3, timeout=30, interval=0.3,
                   message="the newcomer took its share of the leases")
        fault_window()

        acked = load.stop()
        markers += post_markers(hosts, "after")
        everything = set(acked) | set(markers)
        assert len(acked) > 100, load.statuses

        def all_there() -> bool:
            hooked, printed, stored = seen(receiver, hosts, events_db)
            return everything <= set(hooked) and everything <= set(printed) and everything <= stored

        try:
            wait_until(all_there, timeout=60, interval=0.5, message="every acknowledged event in every sink")
        except AssertionError:
            hooked, printed, stored = seen(receiver, hosts, events_db)
            raise AssertionError(f"missing of {len(everything)}: webhook {len(everything - set(hooked))}, "
                                 f"stdout {len(everything - set(printed))}, sqlite {len(everything - stored)}; "
                                 f"cursors {query(url, 'SELECT sink, partition, seq, epoch FROM sink_cursors')}; "
                                 f"heads {query(url, 'SELECT * FROM log_partitions')}") from None
        hooked, printed, _ = seen(receiver, hosts, events_db)
        duplicates = sum(n - 1 for n in hooked.values()) + sum(n - 1 for n in printed.values())
        assert duplicates <= DUPLICATE_BOUND, duplicates
        assert max(query(url, "SELECT max(seq) FROM event_log")[0][0], 0) > 2**31
        cursors = query(url, "SELECT sink, max(seq) FROM sink_cursors GROUP BY sink")
        assert all(seq > 2**31 for sink, seq in cursors if not sink.startswith("~")), cursors
