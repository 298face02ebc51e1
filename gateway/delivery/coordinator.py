"""Leases for one delivery process: heartbeat, renewal, a fair share of every sink's partitions.

Every ``lease_seconds / 4`` the process renews what it holds (one UPDATE ... WHERE owner = me),
re-registers itself, and then compares what it holds with its share: for each sink, the partitions
divided by the live processes that run that sink. Above its share it releases (after the batch in
flight), below it claims free or expired leases by compare-and-set on the epoch. A lease it could
not renew in time is given up locally before the database would let another process take it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Iterable
from typing import Any, Protocol

from gateway.delivery.leases import HOUSEKEEPING, Lease, LeaseStore, Row
from gateway.delivery.report import Report
from gateway.delivery.runner import SinkRunner
from gateway.delivery.worker import POLL_SECONDS, PartitionWorker
from gateway.storage.queries import LogReader

log = logging.getLogger("gateway.delivery")
HOST = socket.gethostname()


def _start_ticks(pid: int) -> str:
    """The process's start time in clock ticks since boot: with the pid, it names one process for good."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return "0"


def owner_id() -> str:
    pid = os.getpid()
    return f"{HOST}/{pid}/{_start_ticks(pid)}/{os.urandom(3).hex()}"


def dead_on_this_host(owner: str) -> bool:
    """An owner on this host whose process is gone (kill -9): its leases need not wait for expiry."""
    try:
        host, pid, ticks, _ = owner.split("/")
    except ValueError:
        return False
    return host == HOST and _start_ticks(int(pid)) != ticks


class Task(Protocol):
    lease: Lease

    def start(self, on_exit: Any) -> None: ...

    async def stop(self, timeout: float) -> None: ...


class Coordinator:
    def __init__(self, store: LeaseStore, reader: LogReader, *, lease_seconds: float, partitions: int,
                 graceful: float, report: Report, housekeeper: Any, siblings: int = 1) -> None:
        self.store = store
        self.reader = reader
        self.ttl = lease_seconds
        self.every = lease_seconds / 4
        self.margin = max(lease_seconds / 4, 0.5)
        self.partitions = partitions
        self.graceful = graceful
        self.report = report
        self.housekeeper = housekeeper  # a factory: Lease -> a task that prunes while it holds it
        self.runners: dict[str, SinkRunner] = {}
        self.started: set[str] = set()  # runners whose sink started: only those take leases
        self.settings: dict[str, Any] = {}
        self.leases: dict[tuple[str, int], Lease] = {}
        self.tasks: dict[tuple[str, int], Task] = {}
        self.heads: dict[int, int] = {}
        self._head_signal = asyncio.Event()
        self._offset = int.from_bytes(os.urandom(2), "big")
        self._loops: list[asyncio.Task[None]] = []
        self._starting: dict[str, asyncio.Task[None]] = {}
        self._stopping = False
        self._began = time.time()
        self._others_seen: set[str] = set()  # other gateways' delivery processes already warned about
        self.siblings = siblings  # delivery processes this one's supervisor runs, itself included
        self._balancing = asyncio.Lock()
        self._settle_until = time.monotonic() + self.every
        self._early: set[asyncio.Task[None]] = set()

    # -- what a sink sees ----------------------------------------------------------------------
    def held(self, sink: str) -> dict[int, int]:
        """Partitions -> epochs this process may deliver for ``sink`` now (read from the sink's thread)."""
        return {p: lease.epoch for (s, p), lease in list(self.leases.items()) if s == sink and lease.valid()}

    # -- sinks ---------------------------------------------------------------------------------
    def add_runner(self, runner: SinkRunner) -> None:
        self.runners[runner.name] = runner
        self._starting[runner.name] = asyncio.create_task(self._start_runner(runner), name=f"start:{runner.name}")

    async def _start_runner(self, runner: SinkRunner) -> None:
        """Start the sink, retrying with its backoff: one that cannot start says so and keeps trying."""
        failures = 0
        while not self._stopping and self.runners.get(runner.name) is runner:
            try:
                await runner.start()
                self.started.add(runner.name)
                task = asyncio.create_task(self._claim_early(runner.name), name=f"claim:{runner.name}")
                self._early.add(task)
                task.add_done_callback(self._early.discard)
                return
            except Exception as exc:
                failures += 1
                error = f"{type(exc).__name__}: {exc}"[:500]
                log.error("sink %s cannot start: %s", runner.name, error)
                self.report.sink_failed(runner.name, error)
                await asyncio.sleep(min(60.0, 2.0 ** failures))

    async def remove_runner(self, name: str) -> None:
        runner = self.runners.pop(name, None)
        self.started.discard(name)
        starting = self._starting.pop(name, None)
        if starting is not None:
            starting.cancel()
        for key in [k for k in self.tasks if k[0] == name]:
            await self._release(key)
        if runner is not None:
            await runner.stop(self.graceful)

    # -- the loops -----------------------------------------------------------------------------
    async def start(self) -> None:
        # Renewal has a loop of its own: claiming many leases in a rebalance (a round trip each) on a
        # loaded host must never hold up the renewal of those already held.
        self._loops = [asyncio.create_task(self._every(self._beat, self.every), name="lease-heartbeat"),
                       asyncio.create_task(self._every(self._balance, self.every), name="lease-balance"),
                       asyncio.create_task(self._every(self._read_heads, POLL_SECONDS), name="log-heads"),
                       asyncio.create_task(self._every(self._watch, 1.0), name="sink-watch")]

    async def _every(self, step: Any, seconds: float) -> None:
        failures = 0
        while not self._stopping:
            try:
                await step()
                failures = 0
            except Exception as exc:  # the database may be away: say so and try again
                failures += 1
                if failures == 1 or failures % 20 == 0:
                    log.warning("%s failed (%d in a row), retrying: %s", step.__name__.strip("_"), failures,
                                str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__)
            await asyncio.sleep(seconds)

    async def _read_heads(self) -> None:
        heads = await self.reader.heads()
        if heads != self.heads:
            self.heads = heads
            signal, self._head_signal = self._head_signal, asyncio.Event()
            signal.set()

    async def _watch(self) -> None:
        """Say when a sink is stuck in a call, and when it is not any more."""
        for runner in self.runners.values():
            stuck = runner.stuck_for
            self.report.sink(runner.name).stuck_seconds = stuck
            if stuck and not runner.stuck_logged:
                runner.stuck_logged = True
                log.error("sink %s is stuck: a call has not returned for %.0fs (the other sinks go on)",
                          runner.name, stuck)
            elif not stuck and runner.stuck_logged:
                runner.stuck_logged = False
                log.info("sink %s is no longer stuck", runner.name)
        for key in [k for k, lease in self.leases.items() if not lease.valid() and k not in self.tasks]:
            self.leases.pop(key, None)

    async def _beat(self) -> None:
        """Renew every lease held, drop those lost, say this process is alive."""
        sent = time.monotonic()
        held_before = dict(self.leases)  # a lease the balance loop claims meanwhile is not judged here
        renewed = await self.store.renew(self.ttl)
        now = await self.store.now()
        expires = now + self.ttl
        for key, lease in held_before.items():
            if self.leases.get(key) is not lease:
                continue
            if renewed.get(key) == lease.epoch:
                if lease.valid():  # a lease already given up locally is not revived: it is claimed anew
                    lease.deadline = sent + self.ttl - self.margin
            else:
                log.warning("sink %s partition %d: lease lost to another process", *key)
                await self._drop(key)
        held = sorted((s, p, lease.epoch) for (s, p), lease in self.leases.items())
        await self.store.beat(host=HOST, pid=os.getpid(), supervisor=os.getppid(), sinks=sorted(self.started),
                              started_at=self._began, expires_at=expires, report=self.report.as_dict(held))

    async def _claim_early(self, sink: str) -> None:
        """Claim a sink's share as soon as it starts rather than at the next balance (up to a period
        later), once the processes starting beside this one can be counted in (``_settled``); retried
        for a period, as the others announce themselves and hand back what they took too early."""
        until = time.monotonic() + self.every
        try:
            await self._beat()  # announce the sink, so that the others count this process in
            while not self._stopping and sink in self.started and time.monotonic() < until:
                async with self._balancing:
                    if await self._balance_once(only=sink):
                        return
                await asyncio.sleep(POLL_SECONDS)
        except Exception as exc:  # the periodic balance claims it then
            log.warning("sink %s: claiming its leases at start failed, the next balance will: %s", sink,
                        str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__)

    def _settled(self, sink: str, processes: list[dict[str, Any]], now: float) -> bool:
        """Whether a share of ``sink`` computed now counts every process about to take part: all the
        delivery processes of this one's supervisor run it, and no other process started within a lease
        lacks it (it may be about to start it). A share taken before that is handed back a moment later."""
        siblings = [p for p in processes if p["host"] == HOST and p["supervisor"] == os.getppid()]
        if len(siblings) < self.siblings or any(sink not in p["sinks"] for p in siblings):
            return False
        return not any(sink not in p["sinks"] and p["started_at"] > now - self.ttl
                       for p in processes if p not in siblings)

    async def _balance(self) -> None:
        async with self._balancing:
            await self._balance_once()

    async def _balance_once(self, only: str | None = None) -> bool:
        """Compare what this process holds with its share of every sink's partitions; release or claim.

        For a period after this process starts, a sink's leases are claimed only once ``_settled``:
        processes started together would otherwise each take everything and hand most of it back.
        With ``only``, that sink alone: True once this process holds its share of it."""
        sent = time.monotonic()
        now = await self.store.now()
        expires = now + self.ttl
        processes = [p for p in await self.store.processes(now) if not dead_on_this_host(p["id"])]
        if only is None:
            self._warn_about_others(processes)
        rows = await self.store.rows()
        partitions = sorted(set(self.heads) | set(range(self.partitions)))
        young = sent < self._settle_until
        if only is not None:
            if not self._settled(only, processes, now):
                return False
            capable = [p["id"] for p in processes if only in p["sinks"]]
            return await self._rebalance(only, partitions, self._share(len(partitions), capable), rows, now,
                                         expires, sent)
        for sink in sorted(set(self.runners) - self.started):
            await self._register(sink, partitions, rows)
        for sink in sorted(self.started):
            capable = [p["id"] for p in processes if sink in p["sinks"]]
            await self._rebalance(sink, partitions, self._share(len(partitions), capable), rows, now, expires,
                                  sent, claim=not young or self._settled(sink, processes, now))
        await self._rebalance(HOUSEKEEPING, [0], self._share(1, [p["id"] for p in processes]), rows, now,
                              expires, sent)
        return True

    def _share(self, partitions: int, capable: list[str]) -> int:
        """This process's share: the partitions split evenly over the processes able to take them, the
        remainder to the first in id order, so the shares add up to exactly the partitions."""
        ids = sorted(set(capable) | {self.store.owner})
        index = ids.index(self.store.owner)
        return partitions // len(ids) + (1 if index < partitions % len(ids) else 0)

    def _warn_about_others(self, processes: list[dict[str, Any]]) -> None:
        """On SQLite, say (at start-up, and whenever another one appears) that another ``gateway serve``
        delivers from this log too: usually a mistake, two serves on one file."""
        if not self.store.database.is_sqlite:
            return
        others = [p for p in processes if p["id"] != self.store.owner and p["supervisor"] != os.getppid()
                  and p["id"] not in self._others_seen]
        if others:
            self._others_seen.update(p["id"] for p in others)
            log.warning("another gateway also delivers from this SQLite log (process %s): the sinks both "
                        "configure are shared by lease, each sink only one of them has is run by that one",
                        ", ".join(str(p["pid"]) for p in others))

    async def _rebalance(self, sink: str, partitions: list[int], target: int, rows: dict[tuple[str, int], Row],
                         now: float, expires: float, _sent: float, claim: bool = True) -> bool:
        """Release what is above ``target``, claim (when ``claim``) up to it; True when it holds ``target``."""
        mine = sorted(p for (s, p) in self.leases if s == sink)
        for p in mine[target:]:
            log.info("sink %s partition %d: released for another process (share %d)", sink, p, target)
            await self._release((sink, p))
        need = target - len(mine)
        if not claim:
            return need <= 0
        for p in self._rotated(partitions):
            if need <= 0:
                return True
            if (sink, p) in self.leases:
                continue
            row = rows.get((sink, p))
            if row is None:
                await self._register(sink, [p], rows)
                row = Row(sink, p, 0, 0, None, 0.0)
            dead = row.owner if row.owner and dead_on_this_host(row.owner) else None
            if not (row.owner is None or row.expires_at <= now or dead or row.owner == self.store.owner):
                continue
            asked = time.monotonic()
            epoch = await self.store.claim(sink, p, row.epoch, now, self.ttl, dead)
            if epoch is None:
                continue
            need -= 1
            lease = Lease(sink, p, epoch, asked + self.ttl - self.margin)
            self.leases[(sink, p)] = lease
            await self._run(lease)
        return need <= 0

    async def _register(self, sink: str, partitions: list[int], rows: dict[tuple[str, int], Row]) -> None:
        """Give a configured sink its cursor rows even while it cannot start: its lag is then visible,
        and ``start = "now"`` means when it was configured, not when it first managed to start."""
        missing = [p for p in partitions if (sink, p) not in rows]
        if not missing:
            return
        start = self.runners[sink].settings.get("start", "beginning") if sink in self.runners else "now"
        # read afresh: the heads loop may not have run yet, and "now" must never mean seq 0
        heads = await self.reader.heads() if start == "now" else {}
        for p in missing:
            await self.store.add(sink, p, heads.get(p, 0))

    def _rotated(self, partitions: list[int]) -> Iterable[int]:
        k = self._offset % len(partitions)
        return partitions[k:] + partitions[:k]

    async def _run(self, lease: Lease) -> None:
        key = (lease.sink, lease.partition)
        if lease.sink == HOUSEKEEPING:
            task: Any = self.housekeeper(lease, self)
            log.info("housekeeping (pruning, checkpoints) runs here (epoch %d)", lease.epoch)
        else:
            rows = await self.store.rows()
            cursor = rows[key].seq if key in rows else 0
            task = PartitionWorker(self.runners[lease.sink], lease, cursor, store=self.store, reader=self.reader,
                                   heads=lambda: self.heads, new_head=lambda: self._head_signal,
                                   observer=self.report)
            log.info("process %d took sink %s partition %d (epoch %d, from seq %d)", os.getpid(), lease.sink,
                     lease.partition, lease.epoch, cursor)
        self.tasks[key] = task
        task.start(self._exited)

    def _exited(self, task: Task, why: str) -> None:
        key = (task.lease.sink, task.lease.partition)
        if self.tasks.get(key) is task:
            self.tasks.pop(key, None)
            if self.leases.get(key) is task.lease:
                self.leases.pop(key, None)
            if why != "stopped":
                log.warning("sink %s partition %d: stopped delivering: %s", key[0], key[1], why)

    async def _drop(self, key: tuple[str, int]) -> None:
        lease = self.leases.pop(key, None)
        if lease is not None:
            lease.deadline = 0.0  # the task sees it before its next batch
        task = self.tasks.pop(key, None)
        if task is not None:
            await task.stop(self.graceful)

    async def _release(self, key: tuple[str, int]) -> None:
        lease = self.leases.get(key)
        task = self.tasks.pop(key, None)
        if task is not None:
            await task.stop(self.graceful)
        self.leases.pop(key, None)
        if lease is not None:
            try:
                await self.store.release(lease.sink, lease.partition, lease.epoch)
            except Exception as exc:  # it expires by itself then
                log.warning("sink %s partition %d: release failed: %s", key[0], key[1], type(exc).__name__)

    async def stop(self) -> None:
        """Finish the batches in flight, release every lease (others take over at once), leave."""
        self._stopping = True
        loops = [*self._loops, *self._starting.values(), *self._early]
        for loop in loops:
            loop.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        await asyncio.gather(*(self._release(k) for k in list(self.tasks)), return_exceptions=True)
        for name in list(self.runners):
            runner = self.runners.pop(name)
            await runner.stop(self.graceful)
        try:
            await self.store.leave()
        except Exception as exc:
            log.warning("leaving the delivery registry failed: %s", type(exc).__name__)
