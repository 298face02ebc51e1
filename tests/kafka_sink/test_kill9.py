"""kill -9 of the delivering process mid-batch, then a restart: every acknowledged event reaches Kafka.

Which process delivers is the gateway's business (a worker today, its own delivery processes
tomorrow), so the test kills every process of the ``gateway serve`` tree at once, whichever it is.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.kafka_sink.conftest import kafka_sink
from tests.kafka_sink.test_faults import ids_of
from tests.reliability.load import Load
from tests.reliability.support import config
from tests.support.kafka import Broker, consume, consume_all
from tests.support.server import RunningGateway, wait_until

pytestmark = pytest.mark.timeout(180)


def process_tree(root: int) -> list[int]:
    """``root`` and every process descended from it (read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += children.get(pid, [])
    return tree


def kill_tree(gw: RunningGateway) -> int:
    assert gw.process is not None
    tree = process_tree(gw.process.pid)
    for pid in reversed(tree):  # children first, so no supervisor lives to notice and respawn
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    gw.process.wait(timeout=10)
    return len(tree)


def test_kill_9_mid_batch_then_restart_loses_nothing(gateway_factory: Any, broker: Broker, topic: str) -> None:
    # Two workers: delivery runs in one of them, not necessarily the parent.
    gw = gateway_factory(config(kafka_sink(broker.bootstrap, topic, batch_max_events=3000, batch_max_seconds=0.5),
                                server={"workers": 2}))
    load = Load(gw.url, clients=6, per_request=20).start()
    try:
        wait_until(lambda: load.acked_count() > 3000, timeout=60, message="a backlog")
        # Mid-batch: some events are on the topic while the clients keep committing more. (Watched on
        # the topic: /metrics answers from whichever worker holds the connection, maybe not the one
        # that delivers.)
        wait_until(lambda: consume(broker, topic, count=1, timeout=0.5), timeout=60, interval=0.01,
                   message="deliveries under way")
        killed = kill_tree(gw)
        with load._lock:
            acked_at_kill = set(load.acked)
        assert killed >= 2, "serve and its workers"
        before = set(ids_of(consume(broker, topic, count=10**9, timeout=2)))
        # Two workers coming up beside a running load on a busy 2-core machine can take a while.
        gw.start(wait=False)
        gw.wait_ready(timeout=120)
        floor = load.acked_count() + 500
        wait_until(lambda: load.acked_count() > floor, timeout=60, message="load after the restart")
    finally:
        acked = load.stop()
    assert load.bad == [], load.bad[:5]
    # /metrics answers from whichever worker takes the request, so wait on the topic itself.
    # Read the whole topic (a redelivered batch may be there twice) until every acknowledged event is
    # there or 90 s have passed: delivery may still be catching up.
    deadline = time.monotonic() + 90
    while True:
        got = set(ids_of(consume_all(broker, topic, timeout=30)))
        if acked <= got or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert before and acked_at_kill - before, "the kill should come while acknowledged events wait for delivery"
    assert acked <= got, f"{len(acked - got)} acknowledged events never reached the topic"
