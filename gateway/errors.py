"""The one error shape every answer of the gateway uses.

Official SDKs crash into retry loops when an error body lacks ``code``, and some read
``message`` or ``detail``: all three are always present. ``detail`` carries what ``message`` does
not (the field, the limit, what was expected) and is null when there is nothing more to say; a
dialect whose SDK shows ``detail`` fills it in its ``error_body``.
"""

from __future__ import annotations

from typing import Any


class GatewayError(Exception):
    """A request-level failure answered with ``status`` and the JSON error shape."""

    status: int = 400
    code: str = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        detail: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.detail = detail
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "detail": self.detail}


class InvalidEvent(GatewayError):
    """One event of a request is invalid; ``field`` is its path inside that event, e.g. ``properties.price``.

    In a many-event request the core applies the source's batch policy; alone it is a 400.
    """

    status = 400
    code = "invalid_event"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.field = field


class Unauthorized(GatewayError):
    status = 401
    code = "unauthorized"


class Forbidden(GatewayError):
    status = 403
    code = "forbidden"


class PayloadTooLarge(GatewayError):
    status = 413
    code = "payload_too_large"


class Unavailable(GatewayError):
    """We cannot take events now; clients should retry after ``Retry-After`` seconds."""

    status = 503
    code = "unavailable"

    def __init__(self, message: str, *, retry_after: int = 5, status: int | None = None,
                 code: str | None = None) -> None:
        super().__init__(message, status=status, code=code, headers={"Retry-After": str(retry_after)})
