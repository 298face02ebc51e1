"""Prometheus metrics. The core reports through this observer; nothing else touches the registry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("gateway_requests", "HTTP requests by route and status", ["route", "status"],
                                registry=r)
        self.accepted = Counter("gateway_events_accepted", "Events committed, by source", ["source"], registry=r)
        self.rejected = Counter("gateway_events_rejected", "Events refused, by source", ["source"], registry=r)
        self.commit_events = Histogram("gateway_group_commit_events", "Events per group commit", registry=r,
                                       buckets=(1, 5, 10, 50, 100, 500, 1000, 5000, 10000, 50000))
        self.commit_seconds = Histogram("gateway_group_commit_seconds", "Group commit duration", registry=r,
                                        buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1))
        self.commit_failures = Counter("gateway_group_commit_failures", "Group commits given up", registry=r)
        self.sink_delivered = Counter("gateway_sink_delivered_events", "Events delivered, by sink", ["sink"],
                                      registry=r)
        self.sink_duplicates = Counter("gateway_sink_duplicate_events", "Events a sink skipped as ones it already "
                                       "held (same source and message id), by sink", ["sink"], registry=r)
        self.sink_failures = Counter("gateway_sink_failures", "Failed delivery attempts, by sink", ["sink"],
                                     registry=r)
        self._request_children: dict[tuple[str, int], Counter] = {}
        self._lag: Callable[[], dict[str, int]] = dict

    def request(self, route: str, status: int) -> None:
        child = self._request_children.get((route, status))
        if child is None:
            child = self._request_children[(route, status)] = self.requests.labels(route, str(status))
        child.inc()

    def committed(self, events: int, seconds: float) -> None:
        self.commit_events.observe(events)
        self.commit_seconds.observe(seconds)

    def commit_failed(self) -> None:
        self.commit_failures.inc()

    def delivered(self, sink: str, events: int, duplicates: int = 0) -> None:
        """``events`` handed to the sink, of which it skipped ``duplicates`` as already held."""
        self.sink_delivered.labels(sink).inc(events - duplicates)
        if duplicates:
            self.sink_duplicates.labels(sink).inc(duplicates)

    def sink_failed(self, sink: str) -> None:
        self.sink_failures.labels(sink).inc()

    def watch_lag(self, lag: Callable[[], dict[str, int]]) -> None:
        """Per-sink lag is read at scrape time from the delivery engine."""
        self._lag = lag
        metrics = self

        class LagCollector:
            def collect(self) -> Any:
                family = GaugeMetricFamily("gateway_sink_lag_events", "Events committed but not yet "
                                           "delivered, by sink", labels=["sink"])
                for sink, value in metrics._lag().items():
                    family.add_metric([sink], value)
                yield family

        self.registry.register(LagCollector())

    def render(self) -> bytes:
        return generate_latest(self.registry)


