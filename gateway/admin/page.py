"""The /admin page: one static HTML page with its script and style, served by the gateway itself.

The page holds no data: it asks for the admin key, keeps it in the tab's sessionStorage and
calls the JSON API. Nothing is loaded from elsewhere, and the policy header forbids it.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response

STATIC_DIR = Path(__file__).resolve().parent / "static"

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


async def admin_page(request: Request) -> Response:
    """The admin web page (HTML); it asks for the admin key itself."""
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8",
                        headers=SECURITY_HEADERS)
