"""Sustained load from many concurrent clients, in every dialect, remembering what was acknowledged."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter

import httpx

from tests.reliability.support import DIALECTS, post_events


class Load:
    """Clients posting small batches until stopped. ``acked`` holds every messageId answered 2xx.

    Each answer that is not 2xx must be a JSON error; ``statuses`` counts them, ``bad`` keeps any
    answer that breaks the error contract (a 503 without ``Retry-After``, a body without ``code``).
    """

    def __init__(self, url: str, clients: int = 12, per_request: int = 5, pad: int = 0) -> None:
        self.url = url
        self.clients = clients
        self.per_request = per_request
        self.pad = "x" * pad
        self.acked: set[str] = set()
        self.statuses: Counter[int] = Counter()
        self.transport_errors = 0
        self.bad: list[str] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def _client(self, index: int) -> None:
        dialect = DIALECTS[index % len(DIALECTS)]
        with httpx.Client(base_url=self.url, timeout=10) as client:
            while not self._stop.is_set():
                ids = [f"{uuid.uuid4()}{self.pad}" for _ in range(self.per_request)]
                try:
                    r = post_events(client, dialect, ids)
                except httpx.TransportError:
                    with self._lock:
                        self.transport_errors += 1
                    time.sleep(0.05)  # the gateway is being restarted
                    continue
                with self._lock:
                    self.statuses[r.status_code] += 1
                    if r.status_code == 200:
                        self.acked.update(ids)
                        continue
                    self._check_error(r)
                time.sleep(0.05)

    def _check_error(self, r: httpx.Response) -> None:
        try:
            body = r.json()
        except ValueError:
            self.bad.append(f"{r.status_code} not JSON: {r.text[:200]}")
            return
        if not {"code", "message", "detail"} <= set(body):
            self.bad.append(f"{r.status_code} without the error shape: {r.text[:200]}")
        if r.status_code in (429, 503) and not r.headers.get("Retry-After", "").isdigit():
            self.bad.append(f"{r.status_code} without Retry-After: {r.text[:200]}")
        if r.status_code not in (503,):
            self.bad.append(f"unexpected {r.status_code}: {r.text[:200]}")

    def acked_count(self) -> int:
        with self._lock:
            return len(self.acked)

    def start(self) -> Load:
        self._threads = [threading.Thread(target=self._client, args=(i,), daemon=True)
                         for i in range(self.clients)]
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> set[str]:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=15)
        return set(self.acked)
