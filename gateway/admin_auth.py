"""The admin key check, for every route registered with ``admin=True``."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request

from gateway.errors import Unauthorized


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()


# The one rule, for every admin route (API, page, plugin routes): the Authorization header is
# "Bearer <key>" or the key alone (Momentum's API clients send it bare). Any other scheme is refused
# as such, so "Basic <key>" or "Token <key>" get told the rule instead of "wrong key".
RULE = "send Authorization: Bearer <admin api_key> (or the key alone)"


def presented_admin_key(header: str) -> str:
    """The key an Authorization header presents under the rule above ('' when none)."""
    scheme, space, rest = header.strip().partition(" ")
    if not space:
        return "" if scheme.lower() == "bearer" else scheme  # "Bearer" with nothing after it, or the bare key
    if scheme.lower() != "bearer":
        # Not echoed: with a key that holds a space, the "scheme" would be part of the key.
        raise Unauthorized(f"the admin API takes no other Authorization scheme: {RULE}",
                           code="unsupported_scheme")
    return rest.strip()


def check_admin(request: Request, admin_key: str) -> None:
    if not admin_key:
        raise Unauthorized("the admin API is off: set [admin] api_key in the config", code="admin_disabled")
    presented = presented_admin_key(request.headers.get("authorization", ""))
    if not presented:
        raise Unauthorized(f"missing admin key: {RULE}", code="missing_key")
    if not hmac.compare_digest(_digest(presented), _digest(admin_key)):
        raise Unauthorized("wrong admin key", code="invalid_key")


def admin_only(endpoint: Callable[[Request], Awaitable[Any]]) -> Callable[[Request], Awaitable[Any]]:
    async def guarded(request: Request) -> Any:
        check_admin(request, request.app.state.gateway.config.admin_key)
        return await endpoint(request)

    guarded.__name__ = getattr(endpoint, "__name__", "admin_endpoint")
    guarded.__doc__ = endpoint.__doc__
    guarded.requires_admin_key = True  # type: ignore[attr-defined]  # read by gateway/openapi.py
    return guarded
