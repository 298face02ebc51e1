"""``gateway webhooks replay`` and ``gateway webhooks batches``, run while the gateway runs."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

from tests.support.receiver import Receiver
from tests.support.server import RunningGateway, wait_until
from tests.webhook_sink.conftest import FAST_RETRY, batch_status, config, send

Factory = Callable[..., RunningGateway]


def gateway_cli(gw: RunningGateway, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", "webhooks", *args, "--config", str(gw.config_path)],
                          capture_output=True, text=True, env=gw.env, cwd=gw.dir, timeout=60)


def test_replay_from_the_command_line_while_the_gateway_runs(gateway_factory: Factory,
                                                            receiver: Receiver) -> None:
    gw = gateway_factory(config({"name": "partner", "target": receiver.url, "batch_max_seconds": 0.1,
                                 "retry_for_seconds": 0.5, **FAST_RETRY}))
    receiver.fail(500)
    first = send(gw, 2, "first")
    one = wait_until(lambda: batch_status(gw, "partner", state="dead"), message="the first batch dead")[0]
    second = send(gw, 1, "second")
    wait_until(lambda: len(batch_status(gw, "partner", state="dead")) == 2, message="both batches dead")

    listing = gateway_cli(gw, "batches", "--webhook", "partner", "--state", "dead")
    assert listing.returncode == 0, listing.stderr
    rows = [json.loads(line) for line in listing.stdout.splitlines()]
    assert {r["batch_id"] for r in rows} == {b["batch_id"] for b in batch_status(gw, "partner")}

    receiver.succeed()
    done = gateway_cli(gw, "replay", "--batch", one["batch_id"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [one["batch_id"]]
    assert [e["messageId"] for e in receiver.wait_for_events(2)] == first

    done = gateway_cli(gw, "replay", "--webhook", "partner", "--since", "2000-01-01T00:00:00Z")
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.split()) == 1
    assert [e["messageId"] for e in receiver.wait_for_events(3)][2:] == second
    wait_until(lambda: all(b["state"] == "delivered" for b in batch_status(gw, "partner")))


def test_replay_refuses_what_it_cannot_do(gateway_factory: Factory, receiver: Receiver) -> None:
    gw = gateway_factory(config({"name": "partner", "target": receiver.url, "batch_max_seconds": 0.1}))
    send(gw, 1)
    receiver.wait_for_events(1)
    delivered = wait_until(lambda: [b for b in batch_status(gw, "partner") if b["state"] == "delivered"])
    done = gateway_cli(gw, "replay", "--batch", delivered[0]["batch_id"])
    assert done.returncode == 1 and "delivered already" in done.stderr
    done = gateway_cli(gw, "replay", "--batch", "no-such-batch")
    assert done.returncode == 1 and "no batch" in done.stderr
    done = gateway_cli(gw, "replay", "--webhook", "partner", "--since", "last week")
    assert done.returncode == 2 and "ISO-8601" in done.stderr
    assert len(receiver.requests) == 1
