"""kill -9 under load, several times: every acknowledged event reaches every sink.

Clients in all three dialects post without pause while the gateway is killed and restarted three
times. Afterwards each messageId ever answered 200 is in the durable log, printed by the stdout
sink, stored exactly once by the SQLite sink, and received by the webhook target.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from tests.reliability.load import Load
from tests.reliability.support import STDOUT, config, log_ids, sink_ids, sqlite_sink, webhook_sink
from tests.support.receiver import Receiver
from tests.support.server import RunningGateway, wait_until

pytestmark = pytest.mark.timeout(150)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def test_kill_9_under_load_three_times_loses_nothing_in_any_sink(gateway_factory: Any,
                                                                  receiver: Receiver) -> None:
    gw: RunningGateway = gateway_factory(config(STDOUT, sqlite_sink(), webhook_sink(receiver.url)))
    load = Load(gw.url, clients=12).start()
    kills = 0
    try:
        for _ in range(3):
            floor = load.acked_count() + 250
            wait_until(lambda floor=floor: load.acked_count() > floor, timeout=30, message="load running")
            time.sleep(0.3)  # let deliveries be in flight too
            gw.kill()
            kills += 1
            gw.start()
        floor = load.acked_count() + 100
        wait_until(lambda: load.acked_count() > floor, timeout=30, message="load after the last restart")
    finally:
        acked = load.stop()
    assert kills == 3 and len(acked) > 1000
    assert load.bad == [], load.bad[:5]
    assert load.transport_errors > 0, "the kills should have cut some requests off"
    data = gw.dir / "data"
    assert acked <= log_ids(data / "gateway.db")

    def missing_on_stdout() -> set[str]:
        return acked - {e.get("messageId") for e in gw.stdout_events()}

    def missing_in_sqlite() -> set[str]:
        return acked - set(sink_ids(data / "events.db"))

    def missing_at_receiver() -> set[str]:
        return acked - {e.get("messageId") for e in receiver.events()}

    for name, missing in (("stdout", missing_on_stdout), ("sqlite", missing_in_sqlite),
                          ("webhook", missing_at_receiver)):
        wait_until(lambda missing=missing: not missing(), timeout=45,
                   message=f"every acknowledged event in the {name} sink")
    stored = Counter(sink_ids(data / "events.db"))
    assert [m for m, n in stored.items() if n > 1] == [], "the SQLite sink stored an event twice"
