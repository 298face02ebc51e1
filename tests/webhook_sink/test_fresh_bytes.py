"""The sender keeps just-stored batch bodies for their first attempt, bounded by bytes, count and time."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from gateway_plugins.webhook_sink.sender import MAX_FRESH_BYTES, Sender
from gateway_plugins.webhook_sink.settings import WebhookSettings

from gateway.retry import RetryPolicy
from gateway.storage.database import Database
from tests.support.receiver import Receiver
from tests.webhook_sink.test_sink import batch, eventually, running_sink


def sender(tmp_path: Path, held: dict[int, int], fresh_seconds: float = 30.0) -> Sender:
    settings = WebhookSettings(name="partner", target="http://127.0.0.1:9/hook", max_in_flight=8)
    database = Database("sqlite+aiosqlite:///gateway.db", base_dir=tmp_path)
    return Sender(settings, RetryPolicy.from_settings({}, initial=1.0, maximum=60.0), database,
                  logging.getLogger("test.webhook"), lambda: held, fresh_seconds=fresh_seconds)


def test_big_bodies_are_kept_only_up_to_the_byte_bound(tmp_path: Path) -> None:
    kept = sender(tmp_path, {0: 1})
    big = b"x" * (MAX_FRESH_BYTES // 2 - 1)
    for batch_id in ("a", "b", "c"):
        kept.keep(batch_id, 0, big)
    assert set(kept._fresh) == {"a", "b"}  # the free slots would allow 8; bytes allow two of these
    assert kept.take_fresh("a") == big and kept.take_fresh("a") is None
    kept.keep("d", 0, big)
    assert set(kept._fresh) == {"b", "d"} and kept._fresh_bytes == 2 * len(big)


def test_no_body_is_kept_beyond_the_free_attempt_slots(tmp_path: Path) -> None:
    """A sender behind its target has every slot busy: a body kept then would wait in memory."""
    kept = sender(tmp_path, {0: 1})  # 8 slots
    for batch_id in "abcdefghij":
        kept.keep(batch_id, 0, b"[1]")
    assert list(kept._fresh) == list("abcdefgh")

    async def one_sending() -> None:
        kept.take_fresh("a")
        kept._in_flight["a"] = asyncio.create_task(asyncio.sleep(10))  # its attempt under way
        kept.keep("k", 0, b"[1]")
        assert "k" not in kept._fresh  # 1 sending + 7 kept fill the 8 slots
        kept._in_flight.pop("a").cancel()
        kept.keep("k", 0, b"[1]")
        assert "k" in kept._fresh

    asyncio.run(one_sending())


def test_bodies_of_a_partition_no_longer_held_or_kept_too_long_are_let_go(tmp_path: Path) -> None:
    held = {0: 1, 1: 1}
    kept = sender(tmp_path, held)
    kept.keep("p0", 0, b"[1]")
    kept.keep("p1", 1, b"[2]")
    del held[1]  # the lease went to another process, which reads the batch from the table
    kept._drop_stale(held)
    assert set(kept._fresh) == {"p0"} and kept._fresh_bytes == 3
    old = sender(tmp_path, held, fresh_seconds=0.0)
    old.keep("p0", 0, b"[1]")
    old._drop_stale(held)
    assert old._fresh == {} and old._fresh_bytes == 0


def test_no_body_is_left_behind_by_batches_the_sender_picked_as_they_were_stored(
        tmp_path: Path, receiver: Receiver) -> None:
    """The sender may pick a batch the moment its row commits, before deliver() returns: a body kept
    after the insert would stay in memory for good."""
    async def scenario() -> None:
        async with running_sink(tmp_path, target=receiver.url, max_in_flight=2) as sink:
            for i in range(100):
                await sink.deliver(batch(1 + 2000 * i, 2000))
            await eventually(lambda: asyncio.sleep(0, len(receiver.events()) == 200_000), timeout=60)
            await eventually(lambda: asyncio.sleep(0, not sink.sender._in_flight))
            assert sink.sender._fresh == {} and sink.sender._fresh_bytes == 0

    asyncio.run(scenario())
