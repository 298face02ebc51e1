"""Checks on config values that a JSON Schema cannot express: whatever ``serve`` would fail on later.

Database URLs (a backend the gateway supports, an async driver that is installed) and sink event
filters (each entry names a canonical type). Both run in ``gateway check`` and before ``serve`` binds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.canonical import EVENT_TYPES
from gateway.database_urls import FORMAT, url_problem


class ValueProblem(Exception):
    """One config value that cannot work; ``key`` names it inside its table."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


def check_database_url(key: str, url: Any) -> None:
    if isinstance(url, str):
        problem = url_problem(url)
        if problem is not None:
            raise ValueProblem(key, problem)


def database_url_keys(schema: Mapping[str, Any]) -> list[str]:
    """The keys a plugin's config schema marks as database URLs (``"format": "database-url"``)."""
    return [key for key, spec in schema.get("properties", {}).items()
            if isinstance(spec, Mapping) and spec.get("format") == FORMAT]


def check_event_filter(entries: Any) -> None:
    """Each entry is a canonical type, or ``type:Event Name``: a typo would silently match nothing."""
    if not isinstance(entries, list):
        return
    for i, entry in enumerate(entries):
        if not isinstance(entry, str):
            continue
        kind = entry.split(":", 1)[0]
        if kind in EVENT_TYPES:
            continue
        import difflib  # only for a typo: not on every check's path

        close = difflib.get_close_matches(kind, EVENT_TYPES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueProblem(f"events[{i}]", f"{entry!r} is not an event type{hint}; expected one of "
                           f"{', '.join(EVENT_TYPES)}, or type:Event Name such as track:Order Completed")


def check_sink_table(table: Mapping[str, Any], schema: Mapping[str, Any]) -> None:
    check_event_filter(table.get("events"))
    for key in database_url_keys(schema):
        check_database_url(key, table.get(key))
