"""The ``sqlite`` sink: canonical events in a typed ``events`` table (SQLite or PostgreSQL), and
``gateway events`` to look at them. See README.md next to this file."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from gateway import SinkType, hookimpl
from plugins.sqlite_sink.cli import add_command
from plugins.sqlite_sink.sink import CONFIG_SCHEMA, SqliteSink


@hookimpl
def register_sinks(register: Callable[[SinkType], None]) -> None:
    register(
        SinkType(
            name="sqlite",
            factory=SqliteSink.from_settings,
            config_schema=CONFIG_SCHEMA,
            # a PostgreSQL URL may carry a password
            secret_fields=("url",),
            description="Canonical events in a typed, indexed events table (SQLite or PostgreSQL).",
        )
    )


@hookimpl
def register_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    add_command(subparsers)
