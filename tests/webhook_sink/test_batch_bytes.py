"""A batch is cut by bytes as well as by count: 10,000 big events must not be one batch in memory."""

from __future__ import annotations

import uuid

from gateway.delivery.worker import BATCH_MAX_BYTES
from tests.conftest import PROBE_CONFIG, GatewayFactory
from tests.support.receiver import Receiver
from tests.support.server import wait_until

KEY = ("probe-write-key", "")
PAD = 24 * 1024  # bytes of padding per event: BATCH_MAX_BYTES is ~700 of them


def test_big_events_are_cut_into_batches_of_at_most_the_byte_bound(gateway_factory: GatewayFactory) -> None:
    with Receiver() as receiver:
        sink = (f'[[sinks]]\nname = "partner"\ntype = "webhook"\ntarget = "{receiver.url}"\n'
                'allow_private_targets = true\nbatch_max_events = 10000\nbatch_max_seconds = 1\n')
        source = PROBE_CONFIG.replace('write_key = "probe-write-key"\n', 'write_key = "probe-write-key"\n'
                                      'max_event_bytes = 32768\nmax_request_bytes = 1048576\n', 1)
        gw = gateway_factory(source + sink)
        total = BATCH_MAX_BYTES // PAD + 300  # past the bound, far below the count
        ids = [str(uuid.uuid4()) for _ in range(total)]
        for start in range(0, total, 10):
            batch = [{"event": "big", "messageId": i, "properties": {"pad": "x" * PAD}}
                     for i in ids[start:start + 10]]
            r = gw.post("/probe/batch", json={"batch": batch}, auth=KEY)
            assert r.status_code == 200, r.text
        wait_until(lambda: {e["messageId"] for e in receiver.events()} >= set(ids), timeout=60,
                   message="every big event delivered")
        posts = [r for r in receiver.delivered() if r.content.startswith(b"[")]
        assert len(posts) >= 2, "one batch held them all"
        biggest = max(len(r.content) for r in posts)
        assert biggest <= BATCH_MAX_BYTES + 2 * (PAD + 1024), biggest  # the bound, give or take one event
