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


def check_admin(request: Request, admin_key: str) -> None:
    if not admin_key:
        raise Unauthorized("the admin API is off: set [admin] api_key in the config", code="admin_disabled")
    presented = request.headers.get("authorization", "").strip()
    scheme, _, rest = presented.partition(" ")
    if scheme.lower() == "bearer":
        presented = rest.strip()
    if not presented:
        raise Unauthorized("missing admin key: send Authorization: Bearer <admin api_key>", code="missing_key")
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
