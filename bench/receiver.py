"""The webhook receiver of row 5: takes the gateway's batches on 127.0.0.1 and keeps count.

It answers 200 as soon as a batch's body is in, then counts its events and how long after its
``receivedAt`` each arrived (the lag from ingestion to delivery). It shares the two cores with the
gateway, so it does not parse the batches: each canonical event carries one top-level
``receivedAt``, and the bench's events hold no other key of that name, so finding those strings
in the bytes counts the events and dates them (a full parse cost as much CPU as the delivery).
``GET /stats?since=EPOCH`` returns the counts and the lag percentiles of the events received at or after ``since``; with
``&arrived_after=EPOCH`` also how many events arrived here at or after that time.
Usage: ``python bench/receiver.py PORT``.
"""

from __future__ import annotations

import gzip
import re
import sys
import threading
import time
from array import array
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import orjson

RECEIVED_AT = re.compile(rb'"receivedAt":"([^"]*)"')


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events = 0
        self.batches = 0
        self.first: float | None = None
        self.last: float | None = None
        self.received_at = array("d")  # per event: its receivedAt (epoch seconds)
        self.lag = array("d")          # per event: arrival here minus receivedAt

    def add(self, body: bytes, arrived: float) -> None:
        known: dict[bytes, float] = {}  # the events of one request share their receivedAt
        stamps = []
        for text in RECEIVED_AT.findall(body):
            at = known.get(text)
            if at is None:
                at = known[text] = datetime.fromisoformat(text.decode()).timestamp()
            stamps.append(at)
        with self.lock:
            self.events += len(stamps)
            self.batches += 1
            self.first = arrived if self.first is None else min(self.first, arrived)
            self.last = arrived if self.last is None else max(self.last, arrived)
            self.received_at.extend(stamps)
            self.lag.extend(arrived - s for s in stamps)

    def stats(self, since: float, arrived_after: float | None = None) -> dict[str, object]:
        with self.lock:
            lags = sorted(lag for at, lag in zip(self.received_at, self.lag, strict=True) if at >= since)
            arrived = None if arrived_after is None else sum(
                1 for at, lag in zip(self.received_at, self.lag, strict=True) if at + lag >= arrived_after)

            def pct(p: float) -> float | None:
                return lags[min(len(lags) - 1, int(p * len(lags)))] if lags else None

            return {"events": self.events, "batches": self.batches, "first": self.first, "last": self.last,
                    "window_events": len(lags), "lag_p50": pct(0.5), "lag_p99": pct(0.99),
                    "lag_max": lags[-1] if lags else None, "arrived_after": arrived}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    tally: Tally

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        arrived = time.time()
        self._answer(b'{"ok":true}')
        if self.headers.get("Content-Encoding", "").lower() == "gzip":
            body = gzip.decompress(body)
        if body.startswith(b"["):  # the webhook's test POST on creation is not a batch
            self.tally.add(body, arrived)

    def do_GET(self) -> None:
        query = parse_qs(urlsplit(self.path).query)
        since = float(query.get("since", ["0"])[0])
        after = query.get("arrived_after")
        self._answer(orjson.dumps(self.tally.stats(since, float(after[0]) if after else None)))


def main(port: int) -> None:
    Handler.tally = Tally()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main(int(sys.argv[1]))
