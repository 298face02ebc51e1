"""Each sink on a thread with an event loop of its own, its calls timed.

A sink that blocks (a stdout on a full pipe, a driver that hangs) can then only block its own
thread: the delivery process's loop keeps renewing leases and the other sinks keep delivering.
A call that has not returned for ``stuck_after`` seconds makes the sink "stuck" (logged, reported
in /metrics and the status API) until it returns.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from gateway.sinks import Batch, Sink, SinkContext, SinkType
from gateway.storage.database import Database

log = logging.getLogger("gateway.delivery")

START_TIMEOUT_SECONDS = 60.0


class SinkRunner:
    def __init__(self, name: str, sink_type: SinkType, settings: Mapping[str, Any], *, state_url: str,
                 config_dir: Any, leases: Callable[[], dict[int, int]], stuck_after: float,
                 deliver_timeout: float, attempt_failed: Callable[[str], None] = lambda error: None) -> None:
        self.name = name
        self.settings = settings
        self.stuck_after = stuck_after
        self.deliver_timeout = deliver_timeout
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run_loop, name=f"sink:{name}", daemon=True)
        self._thread.start()
        self._ready.wait()
        self._call_started: float | None = None  # monotonic start of the call running now, if any
        self.stuck_logged = False
        self._lock: asyncio.Lock | None = None
        # The sink and its database live on the sink's loop: an asyncpg connection belongs to one loop.
        self.database: Database | None = None

        def make() -> Sink:
            self.database = Database(state_url, config_dir)
            context = SinkContext(name=name, database=self.database, config_dir=config_dir,
                                  logger=logging.getLogger(f"gateway.sink.{name}"), leases=leases,
                                  attempt_failed=attempt_failed)
            return sink_type.factory(settings, context)

        self.sink: Sink = self._call_sync(make)

    def _run_loop(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        self._ready.set()
        loop.run_forever()
        loop.close()

    def _call_sync(self, func: Callable[[], Any]) -> Any:
        async def call() -> Any:
            return func()

        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(call(), self._loop).result()

    @property
    def stuck_for(self) -> float:
        """Seconds the current call has been running past ``stuck_after`` (0 when not stuck)."""
        started = self._call_started
        if started is None:
            return 0.0
        running = time.monotonic() - started
        return running if running >= self.stuck_after else 0.0

    async def _call(self, make: Callable[[], Coroutine[Any, Any, Any]], timeout: float | None) -> Any:
        async def serially() -> Any:
            if self._lock is None:
                self._lock = asyncio.Lock()
            async with self._lock:  # one call at a time per sink, as on a single loop before
                self._call_started = time.monotonic()
                try:
                    return await make()
                finally:
                    self._call_started = None

        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(serially(), self._loop)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        except TimeoutError:
            future.cancel()  # reaches the sink once its loop runs again
            raise TimeoutError(f"sink {self.name}: no answer within {timeout:.0f}s") from None

    async def start(self) -> None:
        start = getattr(self.sink, "start", None)
        if start is not None:
            await self._call(start, START_TIMEOUT_SECONDS)

    async def deliver(self, batch: Batch) -> None:
        await self._call(lambda: self.sink.deliver(batch), self.deliver_timeout)

    async def stop(self, timeout: float) -> None:
        """Stop the sink (up to ``timeout``) and its loop; a sink blocked for good is left behind
        (its thread is a daemon) rather than holding up the process's exit."""
        stop = getattr(self.sink, "stop", None)
        try:
            if stop is not None:
                await self._call(stop, max(0.1, timeout))
            if self.database is not None:
                database = self.database
                await self._call(database.dispose, max(0.1, timeout))
        except Exception as exc:  # one sink's failure to stop must not keep the others from stopping
            log.error("sink %s failed to stop: %s", self.name, exc)
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._loop.stop)
        await asyncio.to_thread(self._thread.join, max(0.1, timeout))
