"""The kit's pytest plugin, registered through the ``pytest11`` entry point: installed with the gateway.

Fixtures: ``gateway_server`` (real servers on free ports), ``gateway_pipeline`` (in-process
gateways) and ``goldens`` (golden files beside the test module); the ``--update-goldens`` option.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.testing import golden as golden_files
from gateway.testing.pipeline import Pipeline
from gateway.testing.server import GatewayServer

STDOUT_SINK = '\n[[sinks]]\nname = "received"\ntype = "stdout"\n'


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("gateway").addoption(
        "--update-goldens", action="store_true", default=False,
        help="rewrite the gateway golden files from what the tests produce (review the diff)")


def pytest_configure(config: pytest.Config) -> None:
    golden_files.settings.update = bool(config.getoption("--update-goldens"))


class Goldens:
    """Golden files in one folder: ``goldens.events(name, events)`` and ``goldens.value(name, value)``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, name: str) -> Path:
        return self.directory / f"{name}.json"

    def events(self, name: str, events: Any, **options: bool) -> None:
        golden_files.assert_golden_events(self.path(name), events, **options)

    def value(self, name: str, value: Any) -> None:
        golden_files.assert_golden(self.path(name), value)


@pytest.fixture
def goldens(request: pytest.FixtureRequest) -> Goldens:
    """Golden files in the ``golden`` folder beside the test module."""
    return Goldens(Path(request.path).parent / "golden")


@pytest.fixture
def gateway_server(tmp_path: Path) -> Iterator[Callable[..., GatewayServer]]:
    """``gateway_server(config_toml, env=None)`` starts a real gateway with the environment's plugins
    and returns it ready. Without a stdout sink in the config one is added, so that
    ``server.wait_for_stdout_events(n)`` shows what a sink received."""
    started: list[GatewayServer] = []

    def start(config_toml: str, env: dict[str, str] | None = None, *, stdout_sink: bool = True) -> GatewayServer:
        if stdout_sink and 'type = "stdout"' not in config_toml:
            config_toml += STDOUT_SINK
        server = GatewayServer(tmp_path / f"gateway{len(started)}", config_toml, env)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.close()


@pytest.fixture
def gateway_pipeline() -> Iterator[Callable[..., Pipeline]]:
    """``gateway_pipeline(sources=[...], plugins=[module])`` gives a started in-process ``Pipeline``."""
    opened: list[Pipeline] = []

    def open_pipeline(*args: Any, **kwargs: Any) -> Pipeline:
        pipeline = Pipeline(*args, **kwargs).__enter__()
        opened.append(pipeline)
        return pipeline

    yield open_pipeline
    for pipeline in opened:
        pipeline.__exit__(None, None, None)
