"""A real gateway in a subprocess on 127.0.0.1, with its own folder, config and data."""

from __future__ import annotations

import importlib.metadata
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

TEST_PLUGINS_DIR = Path(__file__).resolve().parents[1] / "plugins"


def builtin_plugins() -> str:
    """The entry-point names this project ships: tests load these and nothing else installed."""
    eps = importlib.metadata.distribution("event-gateway").entry_points
    return ",".join(sorted(ep.name for ep in eps if ep.group == "gateway"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def with_port(config_text: str, port: int) -> str:
    lines = f"host = \"127.0.0.1\"\nport = {port}\n"
    if "[server]" in config_text:
        return config_text.replace("[server]\n", f"[server]\n{lines}", 1)
    return f"{config_text}\n[server]\n{lines}"


class RunningGateway:
    def __init__(self, directory: Path, config_text: str, env: dict[str, str] | None = None) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config_path = self.dir / "config.toml"
        self.config_path.write_text(with_port(config_text, self.port))
        self.stdout_path = self.dir / "stdout.jsonl"
        self.stderr_path = self.dir / "stderr.log"
        self.env = {**os.environ, "GATEWAY_PLUGINS": builtin_plugins(), **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None
        self.client = httpx.Client(base_url=self.url, timeout=15)

    def start(self, wait: bool = True, serve_args: tuple[str, ...] = ()) -> RunningGateway:
        with self.stdout_path.open("ab") as out, self.stderr_path.open("ab") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gateway", "serve", "--config", str(self.config_path), *serve_args],
                stdout=out, stderr=err, cwd=self.dir, env=self.env)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.process.returncode}:\n{self.stderr()}")
            try:
                if self.client.get("/ready", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"gateway not ready within {timeout}s:\n{self.stderr()}")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def kill(self) -> None:
        """kill -9: no chance to flush or say goodbye."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self, timeout: float = 20) -> int:
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode

    def close(self) -> None:
        self.stop()
        self.client.close()

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.post(path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(path, **kwargs)

    def stdout_events(self) -> list[dict[str, Any]]:
        if not self.stdout_path.exists():
            return []
        events = []
        for line in self.stdout_path.read_bytes().splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                continue  # a line cut short by kill -9; its events are delivered again after restart
        return events

    def wait_for_stdout_events(self, n: int, timeout: float = 15,
                               where: Callable[[dict[str, Any]], bool] | None = None) -> list[dict[str, Any]]:
        """The first ``n`` events (matching ``where``) the stdout sink printed, waiting for them."""
        deadline = time.monotonic() + timeout
        while True:
            events = [e for e in self.stdout_events() if where is None or where(e)]
            if len(events) >= n or time.monotonic() > deadline:
                if len(events) < n:
                    raise AssertionError(f"expected {n} events on stdout, got {len(events)}:\n"
                                         f"{self.stderr()[-3000:]}")
                return events
            time.sleep(0.05)


def wait_until(predicate: Callable[[], Any], timeout: float = 15, interval: float = 0.05,
               message: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} not met within {timeout}s")
        time.sleep(interval)
