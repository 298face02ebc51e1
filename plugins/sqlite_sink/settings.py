"""The sqlite sink's own config keys (apart from the sink, so loading the plugin stays light)."""

from __future__ import annotations

from typing import Any

CONFIG_SCHEMA: dict[str, Any] = {
    "properties": {
        "url": {
            "type": "string",
            # The core checks the backend and that its async driver is installed, at check and start-up.
            "format": "database-url",
            "description": "sqlite+aiosqlite:///path/events.db (relative to the config file) "
                           "or postgresql+asyncpg://user:password@host/database",
        },
    },
    "required": ["url"],
}
