"""Driving load with wrk (Debian's package): installing it when missing, running it, reading its summary."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).with_name("post.lua")


def ensure_wrk() -> str:
    """wrk's path, installing Debian's package first when it is missing (needs root, as on CI)."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise SystemExit("wrk is missing: install it (Debian/Ubuntu: sudo apt-get install wrk) and rerun")
    print("installing wrk with apt-get ...", flush=True)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.STDOUT, "timeout": 300}
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], check=False, env=env, **quiet)  # type: ignore[call-overload]
    subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, env=env, **quiet)  # type: ignore[call-overload]
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("apt-get did not install wrk")
    return found


@dataclass
class Load:
    """What one wrk run measured. ``failed`` counts every answer that was not 2xx and every socket error."""

    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    failed: int
    cpu_us: float = 0.0  # the server's CPU time (all its processes and threads) per request, when measured

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def ok(self) -> int:
        return self.requests - self.failed


def run_wrk(url: str, body: bytes, *, seconds: float, connections: int, threads: int = 1,
            authorization: str | None = None, delay_ms: int = 0, rate: float = 0,
            targets: list[str] | None = None) -> Load:
    """One wrk run on ``url``; with ``targets`` (``host:port`` each) one thread per target, the
    connections split evenly between them (``threads`` is then the number of targets).

    ``rate`` (requests a second in all) offers an open-loop load: requests leave on a fixed
    schedule whatever the answers' latency, as long as a connection is free; ``delay_ms`` instead
    pauses each connection after each answer."""
    if targets:
        threads = len(targets)
    with tempfile.NamedTemporaryFile(prefix="bench-body-", suffix=".json") as body_file:
        body_file.write(body)
        body_file.flush()
        env = {**os.environ, "BENCH_BODY": body_file.name, "BENCH_AUTH": authorization or "",
               "BENCH_DELAY_MS": str(delay_ms), "BENCH_RATE": str(rate / threads if rate else 0),
               "BENCH_TARGETS": ",".join(targets or ())}
        command = [ensure_wrk(), "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s",
                   "--timeout", "10s", "-s", str(SCRIPT), url]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 60,
                              check=False)
    summary = next((line[len("BENCH_JSON "):] for line in done.stdout.splitlines()
                    if line.startswith("BENCH_JSON ")), None)
    if done.returncode != 0 or summary is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    data = json.loads(summary)
    failed = sum(data[k] for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts"))
    return Load(requests=data["requests"], seconds=data["duration_us"] / 1e6, p50_ms=data["p50_us"] / 1e3,
                p90_ms=data["p90_us"] / 1e3, p99_ms=data["p99_us"] / 1e3, max_ms=data["max_us"] / 1e3,
                failed=failed)
