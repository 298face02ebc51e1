"""The durable log's disk fills up under load: 503 with Retry-After, nothing acknowledged lost, and
the gateway takes events again by itself once there is space.

The log lives on a small tmpfs mounted for the test (root only). A filler file takes the last free
byte; the write path really fails then, because the WAL cannot be checkpointed into a database
file that cannot grow, so every commit must grow the WAL. (A read-only remount is not the fault
to use: the kernel refuses it while the gateway holds the log open for writing.)
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.load import Load
from tests.reliability.support import STDOUT, config, log_ids
from tests.support.server import RunningGateway, wait_until

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "gw" / "data"
    mount_point.mkdir(parents=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs for the durable log needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(mount_point: Path) -> Path:
    """Take every free byte of the file system."""
    filler = mount_point / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        for size in (1 << 20, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass  # full at this granularity; go finer
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_answers_503_loses_nothing_and_recovers_by_itself(gateway_factory: Any,
                                                                      small_disk: Path) -> None:
    gw: RunningGateway = gateway_factory(config(STDOUT, storage={"unavailable_after_seconds": 1}), run=False,
                                         name="gw")
    assert gw.dir / "data" == small_disk
    gw.start()
    load = Load(gw.url, clients=9, pad=400).start()
    try:
        wait_until(lambda: load.acked_count() > 300, timeout=30, message="load running")
        filler = fill(small_disk)
        # Commits fail now; requests are answered 503 after unavailable_after_seconds.
        wait_until(lambda: load.statuses[503] >= 10, timeout=45, message="503 answers while the disk is full")
        assert gw.get("/health").status_code == 200
        filler.unlink()  # space returns; no restart
        recovered_from = load.acked_count()
        wait_until(lambda: load.acked_count() > recovered_from + 200, timeout=30,
                   message="events acknowledged again after space returned")
    finally:
        acked = load.stop()
    assert load.bad == [], load.bad[:5]
    assert load.transport_errors == 0
    assert gw.process is not None and gw.process.poll() is None, gw.stderr()[-2000:]
    assert acked <= log_ids(small_disk / "gateway.db")
    wait_until(lambda: acked <= {e.get("messageId") for e in gw.stdout_events()}, timeout=30,
               message="every acknowledged event delivered to the stdout sink")
