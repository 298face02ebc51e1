"""The sink in-process on a real SQLite file, posting to a real receiver: what it stores and when."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from gateway_plugins.webhook_sink import store
from gateway_plugins.webhook_sink.sink import WebhookSink
from gateway_plugins.webhook_sink.tables import payloads
from sqlalchemy import func, select

from gateway import Batch, SinkContext, Unavailable
from gateway.storage.database import Database
from tests.support.receiver import Receiver


def batch(first_seq: int, n: int) -> Batch:
    raw = [orjson.dumps({"messageId": f"m{first_seq + i}", "type": "track", "event": "E"}) for i in range(n)]
    return Batch(first_seq, first_seq + n - 1, raw)


@asynccontextmanager
async def running_sink(tmp_path: Path, failed: Callable[[str], None] = lambda error: None,
                       **settings: Any) -> AsyncIterator[WebhookSink]:
    database = Database("sqlite+aiosqlite:///data/gateway.db", tmp_path)
    sink = WebhookSink(settings, SinkContext("hook", database, tmp_path, logging.getLogger("test.webhook"),
                                             attempt_failed=failed))
    await sink.start()
    try:
        yield sink
    finally:
        await sink.stop()
        await database.dispose()


async def stored_payloads(sink: WebhookSink) -> int:
    async with sink.ctx.database.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(payloads)) or 0)


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 15.0) -> Any:
    async with asyncio.timeout(timeout):
        while not (value := await check()):
            await asyncio.sleep(0.05)
        return value


def test_stored_before_the_first_attempt_and_purged_after_delivery(tmp_path: Path, receiver: Receiver) -> None:
    async def scenario() -> None:
        receiver.hang()
        async with running_sink(tmp_path, target=receiver.url, timeout_seconds=30) as sink:
            await sink.deliver(batch(1, 3))
            rows = await store.recent(sink.ctx.database.engine, "hook")
            assert [(r["state"], r["size"], r["first_seq"], r["last_seq"]) for r in rows] == [("pending", 3, 1, 3)]
            assert await stored_payloads(sink) == 1
            await asyncio.to_thread(receiver.wait_for_requests, 1)
            receiver.succeed()
            await eventually(lambda: _state_is(sink, "delivered"))
            await eventually(lambda: _no_payloads(sink))
        assert [e["messageId"] for e in receiver.events()] == ["m1", "m2", "m3"]

    asyncio.run(scenario())


async def _state_is(sink: WebhookSink, state: str) -> bool:
    rows = await store.recent(sink.ctx.database.engine, "hook")
    return bool(rows) and all(r["state"] == state for r in rows)


async def _no_payloads(sink: WebhookSink) -> bool:
    return await stored_payloads(sink) == 0


def test_events_handed_over_again_after_a_crash_are_stored_once(tmp_path: Path, receiver: Receiver) -> None:
    async def scenario() -> None:
        receiver.fail(500)
        async with running_sink(tmp_path, target=receiver.url, retry_initial_seconds=60) as sink:
            await sink.deliver(batch(1, 2))
        # A new process: the core's cursor had not moved, so it hands over seq 1-2 again.
        async with running_sink(tmp_path, target=receiver.url, retry_initial_seconds=60) as sink:
            await sink.deliver(batch(1, 2))
            await sink.deliver(batch(3, 1))
            rows = await store.recent(sink.ctx.database.engine, "hook")
            assert sorted((r["first_seq"], r["last_seq"]) for r in rows) == [(1, 2), (3, 3)]

    asyncio.run(scenario())


def test_too_many_waiting_batches_push_back_on_the_core(tmp_path: Path, receiver: Receiver) -> None:
    async def scenario() -> None:
        receiver.down()
        async with running_sink(tmp_path, target=receiver.url, max_pending_batches=2,
                                retry_initial_seconds=60) as sink:
            await sink.deliver(batch(1, 1))
            await sink.deliver(batch(2, 1))
            with pytest.raises(Unavailable):
                await sink.deliver(batch(3, 1))

    asyncio.run(scenario())


def test_a_dead_batch_keeps_its_payload_until_replayed(tmp_path: Path, receiver: Receiver) -> None:
    async def scenario() -> None:
        receiver.fail(503, retry_after=0)
        async with running_sink(tmp_path, target=receiver.url, retry_initial_seconds=0.1,
                                retry_max_seconds=0.2, retry_for_seconds=0.5) as sink:
            engine = sink.ctx.database.engine
            await sink.deliver(batch(1, 2))
            await eventually(lambda: _state_is(sink, "dead"))
            assert await stored_payloads(sink) == 1
            receiver.succeed()
            assert len(await store.replay(engine, webhook="hook")) == 1
            sink.sender.wake()
            await eventually(lambda: _state_is(sink, "delivered"))
            await eventually(lambda: _no_payloads(sink))
        assert [e["messageId"] for e in receiver.events()] == ["m1", "m2"]

    asyncio.run(scenario())


def test_an_attempt_that_raises_is_a_failure_with_backoff_then_dead(tmp_path: Path, receiver: Receiver) -> None:
    # The settings check refuses this token now; handed to the sink directly, it stands for any fault an
    # attempt can raise that no check foresaw (here UnicodeEncodeError from the header, no httpx error).
    # Each raise is a recorded, counted failure with backoff, then a dead letter: never a hot loop.
    failures: list[str] = []

    async def scenario() -> None:
        async with running_sink(tmp_path, failures.append, target=receiver.url, auth_token="tök€n",
                                retry_initial_seconds=0.5, retry_max_seconds=1, retry_for_seconds=3) as sink:
            await sink.deliver(batch(1, 2))
            await eventually(lambda: _state_is(sink, "dead"), timeout=20)
            dead = (await store.recent(sink.ctx.database.engine, "hook"))[0]
            # about 3 s of retries from 0.5 s doubling to 1 s: a handful of attempts, not thousands
            assert 2 <= dead["attempts"] <= 8, dead
            assert "UnicodeEncodeError" in dead["last_error"], dead
            assert len(failures) == dead["attempts"] and "UnicodeEncodeError" in failures[0], failures
            await asyncio.sleep(1.5)
            assert (await store.recent(sink.ctx.database.engine, "hook"))[0]["attempts"] == dead["attempts"]
        assert receiver.requests == []

    asyncio.run(scenario())
