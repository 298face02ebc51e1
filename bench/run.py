"""The benchmark in one command: ``make bench`` (that is, ``.venv/bin/python bench/run.py``).

It starts every process itself on 127.0.0.1 (a baseline app, gateways, a webhook receiver), drives
them with wrk, prints one table and keeps it in ``bench/results.md``. What each row means and the
targets are in ``bench/README.md``. ``--seconds`` sets the length of each measured load (default 10).
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import bodies, sustained  # noqa: E402
from bench.configs import Setup, working_plugins  # noqa: E402
from bench.kafka import kafka_delivery  # noqa: E402
from bench.loadgen import Load, ensure_wrk, run_wrk  # noqa: E402
from bench.postgres_rows import postgres_rows  # noqa: E402
from bench.processes import BenchGateway, Helper  # noqa: E402
from bench.profiling import Profiler  # noqa: E402
from bench.report import Row, number, render, verdict, write_results  # noqa: E402
from bench.sink_alone import sqlite_sink_cpu_us  # noqa: E402

BATCH = 100  # events per request on the many-event routes
MISSING = "n/a (plugin missing)"


class Bench:
    def __init__(self, args: argparse.Namespace, setup: Setup, workdir: Path) -> None:
        self.args = args
        self.setup = setup
        self.workdir = workdir
        self.rows: list[Row] = []
        self.notes: list[str] = []
        self.rss: dict[str, float] = {}
        self.profiler = Profiler(Path(args.profile)) if args.profile else None

    # -- helpers -------------------------------------------------------------------------------
    def wrk(self, url: str, body: bytes, auth: str | None, connections: int, seconds: float | None = None,
            delay_ms: int = 0) -> Load:
        return run_wrk(url, body, seconds=seconds or self.args.seconds, connections=connections,
                       authorization=auth, delay_ms=delay_ms)

    def start(self, name: str, config: str, directory: Path | None = None) -> BenchGateway:
        gateway = BenchGateway(directory or self.workdir / name, config, env=self.setup.env)
        gateway.start()
        return gateway

    def measure(self, gateway: BenchGateway, path: str, body: bytes, auth: str | None, per_request: int,
                connections: int, label: str) -> tuple[Load, str]:
        """One load, and whether every event of every 200 is in the durable log afterwards."""
        self.wrk(gateway.url + path, body, auth, connections, seconds=self.args.warmup)
        before, cpu = gateway.log_count(), gateway.cpu()
        with self._profile(gateway, label):
            load = self.wrk(gateway.url + path, body, auth, connections)
        load.cpu_us = 1e6 * (gateway.cpu() - cpu) / max(1, load.requests)
        committed = gateway.log_count() - before
        problems = []
        if load.failed:
            problems.append(f"{load.failed:,} failed requests")
        if committed < load.ok * per_request:
            problems.append(f"LOST {load.ok * per_request - committed:,} acknowledged events")
        return load, "; ".join(problems) or f"ok ({committed:,} events logged)"

    def _profile(self, gateway: BenchGateway, label: str) -> contextlib.AbstractContextManager[None]:
        if self.profiler is None:
            return contextlib.nullcontext()
        return self.profiler.record(gateway, label, self.args.seconds)

    def settle(self, gateway: BenchGateway, after: str) -> None:
        """Let the sink catch up before the next load, so it does not eat that load's CPU."""
        sink = "events-db" if self.setup.sqlite else "console"
        took = gateway.wait_sink_drained(sink, timeout=90)
        if took > 2:
            self.notes.append(f"the {sink} sink needed {took:.0f} s after {after} to take the whole log")

    # -- the rows ------------------------------------------------------------------------------
    def baseline(self, engine: str = "hypercorn") -> Load:
        directory = self.workdir / f"baseline-{engine}"
        directory.mkdir(parents=True)
        config = directory / "config.toml"
        config.write_text(self.setup.ingest_config(engine=engine))
        app = Helper("baseline.py", str(config), log_dir=directory, env=self.setup.env).wait_ready("POST", "/")
        try:
            url, body, auth = app.url + self.setup.track_path, self.setup.track_body(), self.setup.track_auth
            self.wrk(url, body, auth, self.args.connections, seconds=self.args.warmup)
            cpu = app.cpu()
            load = self.wrk(url, body, auth, self.args.connections)
            load.cpu_us = 1e6 * (app.cpu() - cpu) / max(1, load.requests)
        finally:
            app.stop()
        number_, what = ("1u", "baseline on uvicorn ([server] engine), the same app and settings") \
            if engine == "uvicorn" else ("1", "baseline: bare Starlette app, same Hypercorn settings, POST JSON -> 200")
        self.rows.append(Row(number_, what,
                             f"{number(load.rps)} req/s (p50 {load.p50_ms:.1f} ms, p99 {load.p99_ms:.1f} ms); "
                             f"CPU {load.cpu_us:.0f} us/request",
                             check="ok" if not load.failed else f"{load.failed} failed requests"))
        return load

    def ingestion(self, base: Load) -> tuple[Path, Load, Load]:
        s, c = self.setup, self.args.connections
        gateway = self.start("ingest", s.ingest_config())
        try:
            track, check = self.measure(gateway, s.track_path, s.track_body(), s.track_auth, 1, c, "track")
            ratio = track.rps / base.rps
            self.rows.append(Row("2", f"gateway {s.track_path}, 1 event/request, durable ack, {s.sink_label}",
                                 f"{number(track.rps)} req/s, p50 {track.p50_ms:.1f} ms, p99 {track.p99_ms:.1f} ms"
                                 f", {ratio:.2f} x (1); CPU {track.cpu_us:.0f} us/request, (1)'s CPU / this "
                                 f"= {base.cpu_us / track.cpu_us:.2f}", ">= 0.75 x (1)", verdict(ratio >= 0.75),
                                 check))
            self.settle(gateway, "row 2")
            batch = self.many(gateway, "3", f"gateway {s.batch_path}, {BATCH} events/request", s.batch_path,
                              s.batch_body(BATCH), s.track_auth, ">= 40,000 events/s", 40_000)
            self.settle(gateway, "row 3")
            if "filum" in s.plugins:
                self.many(gateway, "4a", f"Filum /events, arrays of {BATCH}", "/events", bodies.filum_array(BATCH),
                          f"Bearer {bodies.FILUM_KEY}")
                self.settle(gateway, "row 4a")
            else:
                self.rows.append(Row("4a", "Filum /events", MISSING))
            if "usermaven" in s.plugins:
                token = f"{bodies.USERMAVEN_API_KEY}.{bodies.USERMAVEN_TOKEN}"
                self.many(gateway, "4b", f"Usermaven /api/v1/s2s/event, bulk of {BATCH}",
                          f"/api/v1/s2s/event?token={token}", bodies.usermaven_bulk(BATCH), None)
                self.settle(gateway, "row 4b")
            else:
                self.rows.append(Row("4b", "Usermaven /api/v1/s2s/event", MISSING))
            self.rss["ingestion"] = max(gateway.peak_rss().values())
        finally:
            gateway.close()
        return gateway.dir, track, batch

    def on_uvicorn(self, base: Load) -> None:
        """Rows 1u-3u: the optional engine, ``[server] engine = "uvicorn"``, the same loads as rows 1-3."""
        s, c = self.setup, self.args.connections
        base_u = self.baseline("uvicorn")
        gateway = self.start("uvicorn", s.ingest_config(engine="uvicorn"))
        try:
            track, check = self.measure(gateway, s.track_path, s.track_body(), s.track_auth, 1, c, "track-uvicorn")
            self.rows.append(Row(
                "2u", f"row 2 on uvicorn: {s.track_path}, 1 event/request, durable ack, {s.sink_label}",
                f"{number(track.rps)} req/s, p50 {track.p50_ms:.1f} ms, p99 {track.p99_ms:.1f} ms, "
                f"{track.rps / base.rps:.2f} x (1), {track.rps / base_u.rps:.2f} x (1u); CPU {track.cpu_us:.0f} "
                "us/request", check=check))
            self.settle(gateway, "row 2u")
            self.many(gateway, "3u", f"row 3 on uvicorn: {s.batch_path}, {BATCH} events/request", s.batch_path,
                      s.batch_body(BATCH), s.track_auth)
            self.settle(gateway, "row 3u")
            self.rss["uvicorn"] = max(gateway.peak_rss().values())
        finally:
            gateway.close()

    def many(self, gateway: BenchGateway, number_: str, what: str, path: str, body: bytes, auth: str | None,
             target: str = "", floor: float = 0) -> Load:
        load, check = self.measure(gateway, path, body, auth, BATCH, self.args.batch_connections, f"row{number_}")
        events = load.rps * BATCH
        self.rows.append(Row(number_, what, f"{number(events)} events/s ({number(load.rps)} req/s, "
                             f"p99 {load.p99_ms:.0f} ms; CPU {load.cpu_us / BATCH:.0f} us/event)", target,
                             verdict(events >= floor) if target else "", check))
        return load

    def sustained(self) -> None:
        """Row 3s: the highest offered rate at which the SQLite sink and stdout keep up (lag < 2 s)."""
        s = self.setup
        if not s.sqlite:
            self.rows.append(Row("3s", "sustained /v1/batch, SQLite sink + stdout", MISSING))
            return
        gateway = self.start("sustained", s.ingest_config(stdout=True))
        try:
            roles = gateway.roles()  # the sinks must run in a delivery process of their own
            # The row is about keeping up, not starting: a step begun before the sinks hold their leases
            # would count the delivery process's first lease claim as lag.
            for sink in ("events-db", "console"):
                gateway.wait_sink_drained(sink, timeout=60)
            steps = sustained.ramp(gateway.url + s.batch_path, s.batch_body(BATCH), s.track_auth,
                                   max(6.0, self.args.seconds * 0.6), BATCH, gateway.dir / "data" / "events.db",
                                   gateway.stdout_path, gateway.cpu,
                                   lambda: gateway.wait_sink_drained("events-db", timeout=60) and None)
        finally:
            gateway.close()
        kept = [st for st in steps if st.kept_up]
        best = max(kept, key=lambda st: st.achieved) if kept else None
        tried = "; ".join(f"{number(st.offered)} offered -> {number(st.achieved)}/s, lag sqlite "
                          f"{min(st.lag_sqlite, 99):.1f} s stdout {min(st.lag_stdout, 99):.1f} s, CPU "
                          f"{st.cpu_us:.0f} us/event" for st in steps)
        self.notes.append(f"row 3s steps: {tried}")
        rate = best.achieved if best else 0.0
        self.rows.append(Row(
            "3s", f"{s.batch_path} x{BATCH} SUSTAINED: highest offered rate (open loop) with SQLite sink + "
                  "stdout lag < 2 s",
            f"{number(rate)} events/s (CPU {best.cpu_us:.0f} us/event, all processes)" if best
            else "no step kept up", ">= 25,000 events/s", verdict(rate >= 25_000),
            "; ".join(p for p in (
                "" if all(not st.failed for st in steps) else "failed requests (see notes)",
                "" if roles == ["delivery", "ingest"] else f"worker roles {roles}, not one ingest + one delivery",
            ) if p) or "ok (sinks in their own delivery process)"))

    def sink_alone(self) -> None:
        """Row 4c: the SQLite sink's own CPU per event, in this process, on a fresh file."""
        if not self.setup.sqlite:
            self.rows.append(Row("4c", "SQLite sink alone", MISSING))
            return
        # The median of three: one run takes ~1.5 s, short enough for a neighbour's burst to move it by a third.
        runs = sorted(sqlite_sink_cpu_us(50_000) for _ in range(3))
        us = runs[1]
        self.rows.append(Row("4c", "SQLite sink alone, 50k committed track events in batches of 1,000",
                             f"CPU {us:.1f} us/event, median of 3 runs ({runs[0]:.1f}-{runs[2]:.1f}); "
                             f"{number(1e6 / us)} events/s on one core", "<= 25 us/event", verdict(us <= 25)))

    def delivery(self, directory: Path) -> None:
        if "webhook_sink" not in self.setup.plugins:
            self.rows.append(Row("5", "webhook delivery", MISSING))
            return
        receiver = Helper("receiver.py", log_dir=directory).wait_ready()
        gateway = BenchGateway(directory, self.setup.delivery_config(receiver.url), env=self.setup.env)
        try:
            # 1. Throughput: the whole log the ingestion rows filled, from the start, as fast as it goes.
            backlog = gateway.log_count()
            gateway.start()
            ready, cpu = time.time(), gateway.cpu()
            stats = self._wait_delivered(receiver, backlog, timeout=120)
            seconds = max((stats["last"] or ready) - ready, 1e-3)
            rate = stats["events"] / seconds
            # The same without the delivery process's start: from the first batch's arrival to the last's.
            steady = (stats["events"] - stats["events"] / max(1, stats["batches"])) / max(
                (stats["last"] or ready) - (stats["first"] or ready), 1e-3)
            cpu_us = 1e6 * (gateway.cpu() - cpu) / max(1, stats["events"])
            # 2. Lag: a steady, moderate load (4 connections, 20 ms apart) while delivery keeps up.
            since = time.time()
            paced = self.wrk(gateway.url + self.setup.batch_path, self.setup.batch_body(BATCH),
                             self.setup.track_auth, 4, delay_ms=20)
            total = gateway.log_count()
            stats = self._wait_delivered(receiver, total, timeout=60)
            lag = receiver.get(f"/stats?since={since}")
            self.rss["delivery"] = max(gateway.peak_rss().values())
        finally:
            gateway.close()
            receiver.stop()
        check = "ok" if stats["events"] >= total else f"{stats['events']:,} of {total:,} delivered"
        self.rows.append(Row(
            "5", "webhook delivery to a local receiver, 10k-event batches",
            f"{number(rate)} events/s ({number(backlog)} logged events in {seconds:.1f} s from ready, CPU "
            f"{cpu_us:.0f} us/event; {number(steady)} events/s first to last batch); lag receivedAt -> "
            f"delivery p50 {lag['lag_p50'] or 0:.2f} s, p99 "
            f"{lag['lag_p99'] or 0:.2f} s at {number(paced.ok * BATCH / paced.seconds)} events/s ingested",
            ">= 100,000 events/s", verdict(rate >= 100_000), check))

    @staticmethod
    def _wait_delivered(receiver: Helper, total: int, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            stats: dict[str, Any] = receiver.get("/stats?since=1e12")
            if stats["events"] >= total or time.monotonic() > deadline:
                return stats
            time.sleep(0.1)

    def workers(self, track_one: Load, batch_one: Load) -> None:
        s = self.setup
        gateway = self.start("workers", s.ingest_config(workers=2))
        try:
            track, check_t = self.measure(gateway, s.track_path, s.track_body(), s.track_auth, 1,
                                          self.args.connections, "workers-track")
            self.settle(gateway, "row 7 (track)")
            batch, check_b = self.measure(gateway, s.batch_path, s.batch_body(BATCH), s.track_auth, BATCH,
                                          self.args.batch_connections, "workers-batch")
            per_process = gateway.peak_rss()
        finally:
            gateway.close()
        self.rows.append(Row(
            "7", f"[server] workers = 2: {s.batch_path} x{BATCH}; {s.track_path}",
            f"{number(batch.rps * BATCH)} events/s ({batch.rps / batch_one.rps:.2f} x one worker); "
            f"{number(track.rps)} req/s ({track.rps / track_one.rps:.2f} x one worker)",
            check="; ".join(c for c in (check_b, check_t) if not c.startswith("ok")) or "ok"))
        self.rss["workers"] = sum(per_process.values())
        self.notes.append("workers = 2 peak RSS per process: "
                          + ", ".join(f"{mb:.0f} MB" for mb in per_process.values()))

    def sqlite_rows(self) -> None:
        """Rows 1-7, on a SQLite log."""
        base = self.baseline()
        directory, track, batch = self.ingestion(base)
        self.on_uvicorn(base)
        self.sink_alone()
        self.sustained()
        try:
            self.delivery(directory)
        except Exception as exc:  # one broken row must not cost the others
            self.rows.append(Row("5", "webhook delivery", f"error: {type(exc).__name__}: {exc}"[:300]))
        try:
            self.rows.append(kafka_delivery(self.setup, directory))
        except Exception as exc:
            self.rows.append(Row("5k", "Kafka delivery", f"error: {type(exc).__name__}: {exc}"[:300]))
        self.workers(track, batch)
        self.memory()

    def memory(self) -> None:
        single = max(v for k, v in self.rss.items() if k != "workers")
        parts = ", ".join(f"{k} {v:.0f} MB" for k, v in self.rss.items())
        self.rows.append(Row("6", "peak RSS of the gateway process (VmHWM)", f"{single:.0f} MB ({parts})",
                             "< 150 MB", verdict(single < 150)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10, help="length of each measured load (default 10)")
    parser.add_argument("--warmup", type=float, default=2, help="unmeasured load before each row (default 2)")
    parser.add_argument("--connections", type=int, default=64, help="connections for 1-event rows (default 64)")
    parser.add_argument("--batch-connections", type=int, default=16,
                        help=f"connections for {BATCH}-event rows (default 16)")
    parser.add_argument("--profile", metavar="DIR", help="record py-spy profiles of the gateway into DIR")
    parser.add_argument("--keep", action="store_true", help="keep the run's folders (logs, databases)")
    parser.add_argument("--no-save", action="store_true", help="do not rewrite bench/results.md")
    parser.add_argument("--postgres-only", action="store_true",
                        help="only rows 8-9 (PostgreSQL); implies --no-save")
    args = parser.parse_args(argv)
    args.no_save = args.no_save or args.postgres_only
    ensure_wrk()
    setup = Setup(working_plugins())
    workdir = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    bench = Bench(args, setup, workdir)
    print(f"benchmark: {args.seconds:g} s per row, plugins: {', '.join(sorted(setup.plugins))}; "
          f"work folder {workdir}", flush=True)
    try:
        if not args.postgres_only:
            bench.sqlite_rows()
        bench.rows += postgres_rows(setup, args, workdir, bench.notes)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    bench.rows.sort(key=lambda r: r.number)
    print(render(bench.rows))
    for note in bench.notes:
        print(f"- {note}")
    if not args.no_save:
        settings = (f"{args.seconds:g} s per row after {args.warmup:g} s warm-up, wrk 1 thread, "
                    f"{args.connections} connections (1-event rows), {args.batch_connections} (batch rows)")
        write_results(bench.rows, settings, bench.notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
