"""Upgrading from the previous release: its own code makes the database, this release takes it over.

The previous release (commit 7f44d83: one unpartitioned log, cursors and dead letters and the webhook
sink's batches in the log's file) runs for real from ``git archive`` of that commit, with this
venv's libraries: a stdout sink that delivered the first events and was then taken out of the config
(its cursor stays mid-log), and a webhook sink whose receiver failed after the first events (its
later batches wait, stored). Then this release starts on the same folder: every sink resumes exactly
at its cursor, the waiting batches are sent, nothing delivered is sent again, new events flow, and a
second start changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.postgres import Postgres
from tests.support.receiver import Receiver
from tests.support.server import RunningGateway, wait_until

ROOT = Path(__file__).resolve().parents[1]
PREVIOUS_RELEASE = "7f44d83"
WRITE_KEY = ("upgrade-key", "")
OLD_PLUGINS = {"old_stdout_sink": "plugins.stdout_sink", "old_webhook_sink": "plugins.webhook_sink",
               "old_segment_style": "plugins.segment_style"}


def config(url: str, receiver: Receiver, *, early: bool) -> str:
    text = f"""
[storage]
url = "{url}"

[[sources]]
name = "web"
dialect = "segment_style"
write_key = "{WRITE_KEY[0]}"

[[sinks]]
name = "hook"
type = "webhook"
target = "{receiver.url}"
allow_private_targets = true
batch_max_events = 10
batch_max_seconds = 0.2
retry_initial_seconds = 0.5
"""
    if early:
        text += '\n[[sinks]]\nname = "early"\ntype = "stdout"\nbatch_max_events = 10\n'
    return text


@pytest.fixture(scope="module")
def old_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The previous release's code, importable ahead of this one's, its plugins under entry-point
    names of their own (this checkout's names point at this release's modules)."""
    tree = tmp_path_factory.mktemp("old-release")
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", PREVIOUS_RELEASE, "gateway", "plugins", "schemas"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    info = tree / "old_release-0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: old-release\nVersion: 0\n")
    (info / "entry_points.txt").write_text("[gateway]\n" + "".join(f"{k} = {v}\n" for k, v in OLD_PLUGINS.items()))
    return tree


def old_env(tree: Path) -> dict[str, str]:
    return {"PYTHONPATH": os.pathsep.join([str(tree), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
            "GATEWAY_PLUGINS": ",".join(OLD_PLUGINS)}


def post(gw: RunningGateway, ids: range) -> None:
    batch = [{"type": "track", "event": "Upgrade", "messageId": f"m{i}", "userId": "u"} for i in ids]
    r = gw.post("/v1/batch", json={"batch": batch}, auth=WRITE_KEY)
    assert r.status_code == 200, r.text


def ids(events: list[dict[str, object]]) -> list[str]:
    return [str(e["messageId"]) for e in events]


def stdout_after(path: Path, offset: int) -> list[str]:
    return [orjson.loads(line)["messageId"] for line in path.read_bytes()[offset:].splitlines() if line.strip()]


@pytest.fixture(params=["sqlite", "postgresql"])
def log_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/gw/data/gateway.db"
        return
    postgres: Postgres = request.getfixturevalue("postgres")
    with postgres.database("upgrade") as url:
        yield url


def test_a_previous_release_database_is_taken_over_exactly_where_it_stopped(
        tmp_path: Path, old_release: Path, log_url: str) -> None:
    folder = tmp_path / "gw"
    sqlite = log_url.startswith("sqlite")
    db = state = log_url  # on PostgreSQL the state is in the log's database
    with Receiver() as receiver:
        # -- the previous release: "early" takes m0-m29, the webhook m0-m29; then the webhook fails
        old = RunningGateway(folder, config(log_url, receiver, early=True), old_env(old_release))
        old.start()
        post(old, range(0, 30))
        old.wait_for_stdout_events(30, timeout=30)
        receiver.wait_for(lambda r: len(r.events()) >= 30, timeout=30)
        old.close()
        assert old.process is not None and old.process.returncode == 0, old.stderr()[-3000:]
        receiver.fail(500)
        old = RunningGateway(folder, config(log_url, receiver, early=False), old_env(old_release))
        old.start()
        post(old, range(30, 60))
        # every later event stored in a batch that failed at least once: the old cursor passed them
        wait_until(lambda: _old_batches(db, "retrying") and _old_cursor(db, "hook") >= 60, timeout=30,
                   message="the old webhook sink's batches retrying")
        old.close()
        _old_dead_letter(old_release, folder, log_url)
        assert _old_cursor(db, "early") == 30
        assert not (folder / "data" / "gateway-delivery.db").exists()
        if sqlite:
            state = f"sqlite+aiosqlite:///{folder}/data/gateway-delivery.db"
        offset = old.stdout_path.stat().st_size
        waiting, delivered = _old_webhook_batches(db)
        assert waiting and delivered and set(waiting) >= {f"m{i}" for i in range(30, 60)}
        delivered_before = ids(receiver.events())
        assert sorted(delivered_before, key=lambda m: int(m[1:])) == [f"m{i}" for i in range(30)]

        # -- this release on the same folder
        receiver.succeed()
        new = RunningGateway(folder, config(log_url, receiver, early=True))
        try:
            new.start()
            post(new, range(60, 80))
            want = sorted(f"m{i}" for i in range(30, 80))
            wait_until(lambda: len(stdout_after(new.stdout_path, offset)) >= 50, timeout=30,
                       message="the early sink resuming")
            # the webhook: what waited in the old tables, then the new events; a delivered batch never again
            # (the previous release itself may have left a batch it sent as waiting: then it goes again)
            expected = sorted([*waiting, *(f"m{i}" for i in range(60, 80))])
            receiver.wait_for(lambda r: len(r.events()) >= len(delivered_before) + len(expected), timeout=30)
            # from its cursor on: no gap, no repeat (sorted: on PostgreSQL new events go to other partitions)
            assert sorted(stdout_after(new.stdout_path, offset)) == want
            assert sorted(ids(receiver.events())[len(delivered_before):]) == expected
            assert not set(delivered) & set(ids(receiver.events())[len(delivered_before):])
            # the ingest and the delivery process both ran the upgrade at once: one did it, the other found it done
            log = new.stderr()
            for line in ("upgraded the log from the previous layout: event_log has a partition column",
                         "partition heads set from the log (partition 0 at seq 60)",
                         "2 sink cursor(s) moved to the delivery state as partition 0 "
                         "(early at seq 30, hook at seq 60)",
                         "1 dead letter(s) moved", "upgraded the webhook sink's tables from the previous layout"):
                assert log.count(line) == 1, (line, log[-4000:])
            assert _sql(state, "SELECT sink, partition, first_seq, last_seq FROM dead_letters") == [("gone", 0, 3, 4)]
            assert _sql(db, "SELECT head FROM log_partitions WHERE partition = 0")[0][0] >= 60
            tables = _tables(db)
            assert {"previous_sink_cursors", "previous_dead_letters", "previous_source_stats"} <= tables
            # the source's counters carried over: every event the old and the new release took, once
            counted = _sql(db, "SELECT sum(events_total) FROM source_counts")[0][0]
            assert counted == _sql(db, "SELECT count(*) FROM event_log")[0][0], counted
            if sqlite:  # the state moved to its own file; the old tables stay, renamed
                assert {"previous_webhook_batches", "previous_webhook_payloads"} <= tables
                assert not {"sink_cursors", "dead_letters", "webhook_batches"} & tables
            else:  # one database: the webhook tables stay where they were, widened
                assert _sql(db, "SELECT data_type FROM information_schema.columns WHERE table_name = "
                                "'webhook_batches' AND column_name IN ('first_seq', 'last_seq', 'partition') "
                                "ORDER BY column_name") == [("bigint",), ("bigint",), ("integer",)]
                # the dead letters kept their ids: the new table's id sequence is past them
                assert _sql(db, "SELECT nextval(pg_get_serial_sequence('dead_letters', 'id')) > "
                                "(SELECT max(id) FROM dead_letters)") == [(True,)]
        finally:
            new.close()

        # -- a second start: nothing to upgrade, nothing sent again
        seen_log = len(new.stderr())
        sent = len(receiver.events())
        printed = new.stdout_path.stat().st_size
        again = RunningGateway(folder, config(log_url, receiver, early=True))
        try:
            again.start()
            post(again, range(80, 85))
            receiver.wait_for(lambda r: len(r.events()) >= sent + 5, timeout=30)
            wait_until(lambda: len(stdout_after(again.stdout_path, printed)) >= 5, timeout=30)
            assert stdout_after(again.stdout_path, printed) == [f"m{i}" for i in range(80, 85)]
            assert ids(receiver.events())[sent:] == [f"m{i}" for i in range(80, 85)]
            assert "upgraded" not in again.stderr()[seen_log:]
        finally:
            again.close()


def _sql(url: str, statement: str, **params: object) -> list[Any]:
    async def run() -> list[Any]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return [tuple(r) for r in (await conn.execute(text(statement), params)).all()]
        finally:
            await engine.dispose()
    return asyncio.run(run())


def _tables(url: str) -> set[str]:
    async def run() -> set[str]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        finally:
            await engine.dispose()
    return asyncio.run(run())


def _old_cursor(url: str, sink: str) -> int:
    if "sink_cursors" not in _tables(url):
        return -1
    rows = _sql(url, "SELECT seq FROM sink_cursors WHERE sink = :sink", sink=sink)
    return int(rows[0][0]) if rows else -1


def _old_batches(url: str, state: str) -> int:
    if "webhook_batches" not in _tables(url):
        return 0
    return int(_sql(url, "SELECT count(*) FROM webhook_batches WHERE state = :state", state=state)[0][0])


def _old_webhook_batches(url: str) -> tuple[list[str], list[str]]:
    """The messageIds of the old webhook batches still waiting, and of those delivered."""
    by_seq = {seq: orjson.loads(event)["messageId"] for seq, event in _sql(url, "SELECT seq, event FROM event_log")}
    rows = _sql(url, "SELECT state, first_seq, last_seq FROM webhook_batches")
    waiting = [by_seq[s] for state, first, last in rows if state in ("pending", "retrying")
               for s in range(first, last + 1)]
    delivered = [by_seq[s] for state, first, last in rows if state == "delivered" for s in range(first, last + 1)]
    return waiting, delivered


def _old_dead_letter(tree: Path, folder: Path, url: str) -> None:
    """A dead letter as the previous release's own code records one (a sink that gave up on m3-m4)."""
    script = ("import asyncio, pathlib, sys\n"
              "from gateway.storage.database import Database\n"
              "from gateway.storage.queries import LogReader\n"
              "async def main():\n"
              "    db = Database(sys.argv[1], pathlib.Path('.'))\n"
              "    await LogReader(db).dead_letter('gone', 3, 4, [b'{\"messageId\":\"m3\"}', b'{}'], 'gave up')\n"
              "    await db.dispose()\n"
              "asyncio.run(main())\n")
    subprocess.run([sys.executable, "-c", script, url], cwd=folder, env={**os.environ, **old_env(tree)}, check=True)


OLD_LOG_SCRIPT = """
import asyncio, pathlib, sys
from gateway.storage.database import Database
from gateway.storage.log import DurableLog, Write
from gateway.storage.queries import LogReader

async def main():
    db = Database(sys.argv[1], pathlib.Path("."))
    durable = DurableLog(db)
    await durable.start()
    rows = [{"source": "web", "received_at": 1.0, "event": b'{"messageId":"m%d"}' % i, "raw": None} for i in range(10)]
    await durable.append(Write("web", rows))
    await durable.close()
    await LogReader(db).set_cursor("s", 7)
    await db.dispose()

asyncio.run(main())
"""


def test_two_upgrades_at_once_after_a_start_without_it(tmp_path: Path, old_release: Path) -> None:
    """Ten events and a cursor at 7 by the previous release's own log code; then a start of this release
    without the upgrade step (what one before this fix did: a cursor row at 0 in the state file, the
    log unreadable to it); then two upgrades at once. The sink resumes at 7, and each step ran once."""
    from gateway.delivery.leases import LeaseStore
    from gateway.storage.database import Database
    from gateway.storage.state_tables import state_metadata
    from gateway.storage.upgrade import upgrade

    url = f"sqlite+aiosqlite:///{tmp_path}/gateway.db"
    subprocess.run([sys.executable, "-c", OLD_LOG_SCRIPT, url], cwd=tmp_path, check=True,
                   env={**os.environ, **old_env(old_release)})

    async def scenario() -> None:
        pairs = [(Database(url, tmp_path), Database(url.replace("gateway.db", "gateway-delivery.db"), tmp_path))
                 for _ in range(2)]
        log_db, state_db = pairs[0]
        await state_db.create_all(state_metadata)
        await LeaseStore(state_db, "before").add("s", 0, 0)
        try:
            await asyncio.gather(*(upgrade(a, b) for a, b in pairs))
            await upgrade(log_db, state_db)  # and a third finds nothing to do
            rows = await LeaseStore(state_db, "after").rows()
            assert {k: r.seq for k, r in rows.items()} == {("s", 0): 7}
        finally:
            for a, b in pairs:
                await a.dispose()
                await b.dispose()

    logger = logging.getLogger("gateway.upgrade")
    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        asyncio.run(scenario())
    finally:
        logger.removeHandler(handler)
    assert [r.removeprefix("upgraded the log from the previous layout: ") for r in records] == [
        "event_log has a partition column, every earlier event in partition 0",
        "partition heads set from the log (partition 0 at seq 10)",
        "the counters of 1 source(s) kept per partition (as partition 0's)",
        "1 sink cursor(s) moved to the delivery state as partition 0 (s at seq 7)",
        "0 dead letter(s) moved to the delivery state"], records
