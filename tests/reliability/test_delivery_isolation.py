"""Delivery in its own process, each sink on its own thread: a sink blocked in a call (stdout on a
pipe nobody reads) blocks only itself, and says so (log, /metrics, the status API); two
``gateway serve`` on one SQLite log by mistake each say so, and every configured sink still runs."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import PROBE_CONFIG, GatewayFactory
from tests.support.server import RunningGateway, wait_until

pytestmark = pytest.mark.timeout(240)
KEY = ("probe-write-key", "")
ADMIN = {"Authorization": "Bearer test-admin-key"}


class UnreadStdout(RunningGateway):
    """A gateway whose stdout is a pipe this test never reads: the stdout sink blocks once it is full."""

    def start(self, wait: bool = True, serve_args: tuple[str, ...] = ()) -> RunningGateway:
        with self.stderr_path.open("ab") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gateway", "serve", "--config", str(self.config_path), *serve_args],
                stdout=subprocess.PIPE, stderr=err, cwd=self.dir, env=self.env)
        if wait:
            self.wait_ready()
        return self


def post(gw: RunningGateway, n: int, pad: int = 0) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(n)]
    r = gw.post("/probe/batch", auth=KEY, json={"batch": [{"event": "x" * pad or "e", "messageId": i} for i in ids]})
    assert r.status_code == 200, r.text
    return ids


def file_ids(path: Path) -> set[str]:
    import orjson
    return {orjson.loads(line)["messageId"] for line in path.read_bytes().splitlines()} if path.exists() else set()


def test_a_sink_blocked_in_a_call_blocks_only_itself_and_is_reported_stuck(tmp_path: Path) -> None:
    gw = UnreadStdout(tmp_path / "gw", PROBE_CONFIG + """
[delivery]
stuck_after_seconds = 1

[[sinks]]
name = "file"
type = "file"
path = "file.jsonl"
""")
    try:
        gw.start(wait=False)
        gw.wait_ready(timeout=90)  # start-up is slow on a loaded 2-core machine
        sent = []
        for _ in range(12):  # ~600 KB: far past a pipe's 64 KiB, so the stdout sink's write blocks
            sent += post(gw, 50, pad=1000)
        wait_until(lambda: "sink console is stuck" in gw.stderr(), timeout=60, message="the stuck sink logged")
        # Ingestion answers and the other sink delivers while the stdout sink hangs in its write.
        assert gw.get("/health").status_code == 200
        sent += post(gw, 50)
        wait_until(lambda: set(sent) <= file_ids(gw.dir / "file.jsonl"), timeout=60,
                   message="the file sink delivered everything")
        metrics = wait_until(lambda: [line for line in gw.get("/metrics").text.splitlines()
                                      if line.startswith('gateway_sink_stuck_seconds{') and 'sink="console"' in line
                                      and not line.endswith(" 0.0")], timeout=30, message="stuck in /metrics")
        assert metrics
        status = gw.get("/api/v1/status", headers=ADMIN)
        assert status.status_code == 200
        assert '"stuck_seconds"' in status.text and "console" in status.text
        assert gw.get("/api/v1/status").status_code in (401, 403)  # admin only
    finally:
        assert gw.process is not None
        gw.process.kill()
        gw.process.wait(timeout=10)
        assert gw.process.stdout is not None
        gw.process.stdout.close()
        gw.client.close()  # its keep-alive socket, left to the GC, would fail whichever test runs then


def test_two_serves_on_one_sqlite_log_each_say_so_and_run_every_sink(gateway_factory: GatewayFactory,
                                                                    tmp_path: Path) -> None:
    log_db = tmp_path / "shared" / "gateway.db"
    log_db.parent.mkdir()
    base = PROBE_CONFIG.replace('url = "sqlite+aiosqlite:///data/gateway.db"', f'url = "sqlite+aiosqlite:///{log_db}"')
    assert str(log_db) in base

    def with_sink(name: str) -> str:
        return base + f'\n[[sinks]]\nname = "{name}"\ntype = "file"\npath = "{tmp_path / name}.jsonl"\n'

    first = gateway_factory(with_sink("only-first"), name="first", run=False).start(wait=False)
    second = gateway_factory(with_sink("only-second"), name="second", run=False).start(wait=False)
    first.wait_ready(timeout=90)
    second.wait_ready(timeout=90)
    warning = "another gateway also delivers from this SQLite log"
    wait_until(lambda: warning in second.stderr() and warning in first.stderr(), timeout=60,
               message="both serves warned")
    sent = post(first, 20) + post(second, 20)
    # A sink only one of them configures is run by that one: nothing configured is silently left out.
    wait_until(lambda: set(sent) <= file_ids(tmp_path / "only-first.jsonl")
               and set(sent) <= file_ids(tmp_path / "only-second.jsonl"), timeout=60,
               message="each host's own sink delivered every event")
    # The sink both configure ("console") is shared by lease: its one partition may be handed over
    # once, when the serve started second turns out to be the share's owner.
    wait_until(lambda: set(sent) <= {e.get("messageId") for gw in (first, second) for e in gw.stdout_events()},
               timeout=30, message="the shared sink delivered every event")
