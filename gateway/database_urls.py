"""Is a database URL one the gateway can open? Checked at ``check`` and before ``serve`` binds.

Only async SQLAlchemy drivers work. The URL is read here with a regular expression, not SQLAlchemy,
so ``gateway check`` stays fast; whether the driver is installed is asked of the import system
without importing it.
"""

from __future__ import annotations

import importlib.util
import re

# backend -> {driver name in the URL: module that provides it}
ASYNC_DRIVERS: dict[str, dict[str, str]] = {
    "sqlite": {"aiosqlite": "aiosqlite"},
    "postgresql": {"asyncpg": "asyncpg", "psycopg": "psycopg"},
}
# the driver a URL without one should name, and how to install it when it is missing
PREFERRED = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}
INSTALL = {"aiosqlite": "pip install aiosqlite", "asyncpg": "pip install 'event-gateway[postgres]'",
           "psycopg": "pip install 'psycopg[binary]'"}
EXAMPLES = ("sqlite+aiosqlite:///data/gateway.db (a path relative to the config file) "
            "or postgresql+asyncpg://user:password@host:5432/database")
FORMAT = "database-url"  # a JSON Schema "format" marking a plugin's config key as a database URL

_SCHEME = re.compile(r"^(?P<backend>[A-Za-z][A-Za-z0-9]*)(?:\+(?P<driver>[A-Za-z0-9_]+))?://(?P<rest>.*)$", re.S)
_PASSWORD = re.compile(r"^([^/@:]*):[^/@]*@")


def redact(url: str) -> str:
    """The URL without its password, fit for messages and the start-up banner."""
    match = _SCHEME.match(url)
    if match is None:
        return url
    rest = _PASSWORD.sub(r"\1:***@", match.group("rest"))
    return url[: match.start("rest")] + rest


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def url_problem(url: str) -> str | None:
    """None when ``url`` names a supported backend and an installed async driver, else what is wrong."""
    match = _SCHEME.match(url)
    if match is None:
        return f"{redact(url)!r} is not a database URL; expected {EXAMPLES}"
    backend = match.group("backend").lower()
    backend = "postgresql" if backend == "postgres" else backend
    driver = match.group("driver")
    drivers = ASYNC_DRIVERS.get(backend)
    if drivers is None:
        return f"{backend} databases are not supported; expected {EXAMPLES}"
    rest = match.group("rest")
    if driver is None:
        hidden = _PASSWORD.sub(r"\1:***@", rest)
        fixed = f"{backend}+{PREFERRED[backend]}://{hidden}"
        return f"{redact(url)!r} names no driver and only async drivers work; write {fixed}"
    if driver not in drivers:
        return (f"{driver} is not an async driver for {backend}; use one of "
                f"{', '.join(f'{backend}+{d}' for d in sorted(drivers))}")
    if not _installed(drivers[driver]):
        return f"the {driver} driver is not installed; install it with {INSTALL[driver]}"
    return None
