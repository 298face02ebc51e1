"""The repository's own tests' gateway: the kit's server, loading the built-in plugins only."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from gateway.testing.server import GatewayServer, free_port, wait_until, with_port

__all__ = ["TEST_PLUGINS_DIR", "RunningGateway", "builtin_plugins", "free_port", "wait_until", "with_port"]

TEST_PLUGINS_DIR = Path(__file__).resolve().parents[1] / "plugins"


def builtin_plugins() -> str:
    """The entry-point names this project ships: tests load these and nothing else installed."""
    eps = importlib.metadata.distribution("event-gateway").entry_points
    return ",".join(sorted(ep.name for ep in eps if ep.group == "gateway"))


class RunningGateway(GatewayServer):
    def __init__(self, directory: Path, config_text: str, env: dict[str, str] | None = None) -> None:
        super().__init__(directory, config_text, {"GATEWAY_PLUGINS": builtin_plugins(), **(env or {})})
