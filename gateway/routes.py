"""Extra HTTP routes that plugins register (management APIs, pages)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PluginRoute:
    """A Starlette-style endpoint (``async def endpoint(request) -> Response``) at ``path``.

    With ``admin=True`` the core answers 401 unless the request carries the admin key, as
    ``Authorization: <key>`` or ``Authorization: Bearer <key>``. With ``cors=True`` (for routes a
    browser SDK calls from another origin) the core answers the CORS preflight and adds the CORS
    headers to every answer, errors included. Reach the running gateway through
    ``request.app.state.gateway``.
    """

    path: str
    endpoint: Callable[..., Any]
    methods: Sequence[str] = ("GET",)
    admin: bool = True
    name: str | None = None
    summary: str = ""
    cors: bool = False


def slash_forms(path: str) -> tuple[str, ...]:
    """A path and its other trailing-slash form: the gateway serves both, and never answers 307."""
    bare = path.rstrip("/")
    return (bare, bare + "/") if bare else ("/",)
