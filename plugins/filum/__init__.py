"""Plugin filum: accept events in the format of Filum's Event API and its official SDKs."""

from __future__ import annotations

from collections.abc import Callable

from gateway import Dialect, hookimpl

from .dialect import FILUM


@hookimpl
def register_dialects(register: Callable[[Dialect], None]) -> None:
    register(FILUM)
