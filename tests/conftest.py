"""Fixtures: real gateways on 127.0.0.1 in subprocesses, each with its own folder."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.postgres import Postgres, postgres_session
from tests.support.server import TEST_PLUGINS_DIR, RunningGateway, builtin_plugins

# The test process itself loads plugins too (config checks, hook tests): only ours.
os.environ["GATEWAY_PLUGINS"] = builtin_plugins()

BASE_CONFIG = """
[storage]
url = "sqlite+aiosqlite:///data/gateway.db"

[admin]
api_key = "test-admin-key"
"""

PROBE_CONFIG = f"""
plugins_dir = "{TEST_PLUGINS_DIR}"
{BASE_CONFIG}
[[sources]]
name = "probe"
dialect = "probe"
write_key = "probe-write-key"

[[sinks]]
name = "console"
type = "stdout"
"""

GatewayFactory = Callable[..., RunningGateway]


def _factory(base: Path, started: list[RunningGateway]) -> GatewayFactory:
    def start(config_toml: str, env: dict[str, str] | None = None, *, run: bool = True,
              name: str | None = None) -> RunningGateway:
        gw = RunningGateway(base / (name or f"gw{len(started)}"), config_toml, env)
        started.append(gw)
        return gw.start() if run else gw

    return start


@pytest.fixture
def gateway_factory(tmp_path: Path) -> Iterator[GatewayFactory]:
    """``gateway_factory(config_toml, env=None)`` starts a gateway and returns it, ready."""
    started: list[RunningGateway] = []
    yield _factory(tmp_path, started)
    for gw in started:
        gw.close()


@pytest.fixture(scope="module")
def module_gateway_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayFactory]:
    """Like ``gateway_factory``, shared by a module's tests (start once, test many times)."""
    started: list[RunningGateway] = []
    yield _factory(tmp_path_factory.mktemp("gw"), started)
    for gw in started:
        gw.close()


@pytest.fixture(scope="module")
def probe_gateway(module_gateway_factory: GatewayFactory) -> RunningGateway:
    """A gateway with the test-only probe dialect (every auth style) and the stdout sink."""
    return module_gateway_factory(PROBE_CONFIG)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A real PostgreSQL server (a throwaway cluster started once per session); skips when there is none."""
    yield from postgres_session()
