"""The gateway configs of a benchmark run, and which built-in plugins are there to use."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from bench import bodies
from tests.support.server import TEST_PLUGINS_DIR

WANTED = {"segment_style": "dialect", "filum": "dialect", "usermaven": "dialect",
          "sqlite_sink": "sink", "webhook_sink": "sink", "stdout_sink": "sink", "kafka_sink": "sink"}


def working_plugins() -> set[str]:
    """The built-in plugins that load and register what they should (others are still being written)."""
    from gateway.plugins import load_hooks

    found = set()
    saved = os.environ.get("GATEWAY_PLUGINS")
    try:
        for name, kind in WANTED.items():
            os.environ["GATEWAY_PLUGINS"] = name
            try:
                hooks = load_hooks()
                registered = hooks.dialects() if kind == "dialect" else hooks.sink_types()
            except Exception:
                continue
            if registered:
                found.add(name)
    finally:
        if saved is None:
            os.environ.pop("GATEWAY_PLUGINS", None)
        else:
            os.environ["GATEWAY_PLUGINS"] = saved
    return found


@dataclass
class Setup:
    """What a gateway of this run speaks and where it delivers, given the plugins there are."""

    plugins: set[str]

    @property
    def env(self) -> dict[str, str]:
        return {"GATEWAY_PLUGINS": ",".join(sorted(self.plugins))}

    @property
    def segment(self) -> bool:
        return "segment_style" in self.plugins

    @property
    def sqlite(self) -> bool:
        return "sqlite_sink" in self.plugins

    @property
    def track_path(self) -> str:
        return "/v1/track" if self.segment else "/probe/track"

    @property
    def batch_path(self) -> str:
        return "/v1/batch" if self.segment else "/probe/batch"

    @property
    def track_auth(self) -> str:
        return bodies.basic_auth(bodies.SEGMENT_KEY if self.segment else bodies.PROBE_KEY)

    def track_body(self) -> bytes:
        return bodies.segment_single() if self.segment else bodies.probe_single()

    def batch_body(self, n: int) -> bytes:
        return bodies.segment_batch(n) if self.segment else bodies.probe_batch(n)

    @property
    def sink_label(self) -> str:
        return "SQLite sink on" if self.sqlite else "stdout sink to a file (SQLite sink missing)"

    def ingest_config(self, workers: int = 1, stdout: bool = False, engine: str = "hypercorn") -> str:
        parts = [self._top(), _server(workers, engine), _STORAGE, *self._sources()]
        if self.sqlite:
            parts.append('[[sinks]]\nname = "events-db"\ntype = "sqlite"\n'
                         'url = "sqlite+aiosqlite:///data/events.db"\n')
        if stdout or not self.sqlite:
            parts.append('[[sinks]]\nname = "console"\ntype = "stdout"\n')
        return "\n".join(parts)

    def delivery_config(self, receiver_url: str) -> str:
        """Only the webhook sink, from the start of a log an ingestion run filled."""
        return "\n".join([self._top(), _server(1), _STORAGE, *self._sources(),
                          '[[sinks]]\nname = "partner"\ntype = "webhook"\n'
                          f'target = "{receiver_url}/hook"\nallow_private_targets = true\n'
                          # Momentum's 10k batches; a short time cut keeps the run's tail short.
                          'batch_max_events = 10000\nbatch_max_seconds = 2\nstart = "beginning"\n'])

    def sink_config(self, sink_table: str) -> str:
        """Only the given ``[[sinks]]`` table, from the start of a log an ingestion run filled."""
        return "\n".join([self._top(), _server(1), _STORAGE, *self._sources(), sink_table])

    def postgres_config(self, url: str, partitions: int, sink_table: str = "", delivery_workers: int = 1) -> str:
        """A host on a PostgreSQL log with ``partitions``; ``sink_table`` (``[[sinks]]``) for delivery."""
        storage = f'[storage]\nurl = "{url}"\npartitions = {partitions}\n\n[admin]\napi_key = "bench-admin-key"\n'
        return "\n".join([self._top(), _server(1), storage, f"[delivery]\nworkers = {delivery_workers}\n",
                          *self._sources(), sink_table])

    def _top(self) -> str:
        """Top-level keys, which TOML wants before the first table: the test-only probe dialect's folder."""
        return "" if self.segment else f'plugins_dir = "{TEST_PLUGINS_DIR}"\n'

    def _sources(self) -> Iterable[str]:
        if not self.segment:
            yield f'[[sources]]\nname = "probe"\ndialect = "probe"\nwrite_key = "{bodies.PROBE_KEY}"\n'
        else:
            yield f'[[sources]]\nname = "backend"\ndialect = "segment_style"\nwrite_key = "{bodies.SEGMENT_KEY}"\n'
        if "filum" in self.plugins:
            yield f'[[sources]]\nname = "crm"\ndialect = "filum"\nwrite_key = "{bodies.FILUM_KEY}"\n'
        if "usermaven" in self.plugins:
            yield (f'[[sources]]\nname = "site"\ndialect = "usermaven"\napi_key = "{bodies.USERMAVEN_API_KEY}"\n'
                   f'server_token = "{bodies.USERMAVEN_TOKEN}"\n')


_STORAGE = '[storage]\nurl = "sqlite+aiosqlite:///data/gateway.db"\n\n[admin]\napi_key = "bench-admin-key"\n'


def _server(workers: int, engine: str = "hypercorn") -> str:
    return f'[server]\nworkers = {workers}\nengine = "{engine}"\n'
