"""Prometheus metrics. The core reports through this observer; nothing else touches the registry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

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
        self.commit_lock_wait = Counter("gateway_group_commit_lock_wait_seconds",
                                        "Time commits waited for their partition's lock", registry=r)
        self._request_children: dict[tuple[str, int], Counter] = {}

    def request(self, route: str, status: int) -> None:
        child = self._request_children.get((route, status))
        if child is None:
            child = self._request_children[(route, status)] = self.requests.labels(route, str(status))
        child.inc()

    def committed(self, events: int, seconds: float, lock_wait: float = 0.0) -> None:
        self.commit_events.observe(events)
        self.commit_seconds.observe(seconds)
        if lock_wait:
            self.commit_lock_wait.inc(lock_wait)

    def commit_failed(self) -> None:
        self.commit_failures.inc()

    def watch_delivery(self, snapshot: Callable[[], Any]) -> None:
        """Delivery's figures come from the delivery processes' reports (read at scrape time from the
        last snapshot): any process's /metrics shows the whole deployment's delivery."""
        self.registry.register(_DeliveryCollector(snapshot))

    def render(self) -> bytes:
        return generate_latest(self.registry)




class _DeliveryCollector:
    def __init__(self, snapshot: Callable[[], Any]) -> None:
        self.snapshot = snapshot

    def collect(self) -> Any:
        snap = self.snapshot()
        lag = GaugeMetricFamily("gateway_sink_lag_events", "Events committed but not yet delivered, by sink",
                                labels=["sink"])
        for sink, value in snap.lag().items():
            lag.add_metric([sink], value)
        part = GaugeMetricFamily("gateway_sink_partition_lag_events", "Lag by sink and partition",
                                 labels=["sink", "partition"])
        for lease in snap.leases:
            part.add_metric([lease["sink"], str(lease["partition"])], lease["lag"])
        delivered = CounterMetricFamily("gateway_sink_delivered_events", "Events delivered by the live "
                                        "delivery processes, by sink", labels=["sink"])
        for sink, value in snap.totals("delivered").items():
            delivered.add_metric([sink], value)
        duplicates = CounterMetricFamily("gateway_sink_duplicate_events", "Events a sink skipped as ones it "
                                         "already held (same source and message id), by sink", labels=["sink"])
        for sink, value in snap.totals("duplicates").items():
            duplicates.add_metric([sink], value)
        failures = CounterMetricFamily("gateway_sink_failures", "Failed delivery attempts, by sink",
                                       labels=["sink"])
        for sink, value in snap.totals("failures").items():
            failures.add_metric([sink], value)
        stuck = GaugeMetricFamily("gateway_sink_stuck_seconds", "How long a sink's call has hung "
                                  "(0: not stuck), by sink and process", labels=["sink", "process"])
        processes = GaugeMetricFamily("gateway_delivery_processes", "Live delivery processes")
        processes.add_metric([], len(snap.processes))
        leases = GaugeMetricFamily("gateway_delivery_leases", "Leases held, by process", labels=["process"])
        house = GaugeMetricFamily("gateway_log_housekeeping", "Pruning and checkpoint figures of the "
                                  "housekeeping lease's holder", labels=["figure"])
        for process in snap.processes:
            report = process["report"]
            leases.add_metric([str(process["id"])], len(report.get("leases", [])))
            for sink, figures in report.get("sinks", {}).items():
                stuck.add_metric([sink, str(process["id"])], figures.get("stuck_seconds", 0.0))
            for figure, value in report.get("housekeeping", {}).items():
                house.add_metric([figure], value)
        yield from (lag, part, delivered, duplicates, failures, stuck, processes, leases, house)
