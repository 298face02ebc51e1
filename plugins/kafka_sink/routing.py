"""Where one canonical event goes: its topic, its key and its headers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gateway import CanonicalEvent


class Router:
    """Computes a message's topic, key and headers from its event, per the sink's settings.

    The value is never built here: it is the event's JSON exactly as the durable log holds it.
    """

    def __init__(self, topic: str, key: Sequence[str], headers: Sequence[str]) -> None:
        self.template = topic
        self.static_topic = topic if "{" not in topic else None
        self.key_paths = [tuple(path.split(".")) for path in key]
        self.headers = tuple(headers)

    def topic(self, event: CanonicalEvent) -> str:
        if self.static_topic is not None:
            return self.static_topic
        source: Mapping[str, Any] = event.get("source") or {}
        return self.template.replace("{type}", str(event.get("type", ""))).replace(
            "{source}", str(source.get("name", "")))

    def key(self, event: CanonicalEvent) -> bytes | None:
        """The first of the key fields that has a value (a string or a number); None when none has."""
        for path in self.key_paths:
            value: Any = event
            for part in path:
                value = value.get(part) if isinstance(value, dict) else None
            if isinstance(value, bool) or value is None or value == "":
                continue
            if isinstance(value, str | int | float):
                return str(value).encode()
        return None

    def header_list(self, event: CanonicalEvent) -> list[tuple[str, bytes]]:
        out = []
        for name in self.headers:
            if name == "source":
                # The source's id, not its name: ids stay when a source is renamed, and client-sent
                # messageIds are only unique within one source.
                source: Mapping[str, Any] = event.get("source") or {}
                value = source.get("id")
            else:
                value = event.get(name)
            if value is not None:
                out.append((name, str(value).encode()))
        return out
