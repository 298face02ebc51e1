"""CORS for every route a browser SDK calls: one policy, asked by the ingest path and by plugin routes.

Write keys of browser sources are public, and no answer of these routes depends on cookies (there
is no credentials mode), so the CORS headers themselves protect nothing: they let a page read the
answer, errors included, so an SDK neither retries a 200 it cannot see nor hides why it was refused.
What does protect is the origin check: a request from an origin that ``[server] cors_origins`` or
the source's ``allowed_origins`` does not list is refused ``403 origin_not_allowed`` and stores
nothing. A preflight carries no key, so it cannot know the source: it is answered for every origin,
and the request that follows gets its 403 where the page can read it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from gateway.errors import Forbidden, GatewayError

if TYPE_CHECKING:  # the config check imports this module, and must stay free of the web framework
    from starlette.requests import Request

ANY = "*"
# What the official browser SDKs send (Basic auth, text/plain or JSON bodies, RudderStack's
# AnonymousId and SentAt, analytics-next's X-Retry-Count) plus the usual extras; nothing else is granted.
SAFE_REQUEST_HEADERS = frozenset({
    "authorization", "content-type", "content-encoding", "anonymousid", "sentat", "x-retry-count",
    "x-requested-with", "accept", "accept-language", "content-language",
})
METHODS = "GET, POST, OPTIONS"
MAX_AGE = "86400"
# Not CORS-safelisted, yet read by the SDKs (Retry-After on 429/503) or useful to see (the pixel's reason).
EXPOSED = "Retry-After, X-Gateway-Error"


def normalize(origin: str) -> str:
    """Origins compare case-insensitively on scheme and host; a trailing slash is a common typo."""
    return origin.strip().rstrip("/").lower()


class CorsPolicy:
    """The server-wide list of allowed origins (``*``: any), and the headers every answer gets."""

    def __init__(self, origins: Iterable[str] = (ANY,)) -> None:
        listed = {normalize(o) for o in origins}
        self.any = ANY in listed
        self.origins = frozenset(listed - {ANY})
        # The fixed paths of CORS routes, so the router's own 404/405 answers there get the headers too.
        self.paths: set[str] = set()

    def allows(self, origin: str, source_origins: frozenset[str] = frozenset()) -> bool:
        wanted = normalize(origin)
        if not self.any and wanted not in self.origins:
            return False
        return not source_origins or wanted in source_origins

    def check(self, origin: str | None, source_origins: frozenset[str] = frozenset()) -> None:
        """Refuse a browser request from an origin not allowed; requests without Origin are not browsers'."""
        if origin is not None and not self.allows(origin, source_origins):
            listed = sorted(source_origins) if source_origins else sorted(self.origins)
            raise Forbidden(f"origin {origin[:200]!r} is not allowed to send to this source",
                            code="origin_not_allowed", detail={"origin": origin[:200], "allowed": listed})

    @staticmethod
    def answer_headers(origin: str | None) -> dict[str, str]:
        """Headers for every answer of a CORS route, successes and errors alike."""
        if origin is None:
            return {"Vary": "Origin"}
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin", "Access-Control-Expose-Headers": EXPOSED}

    @staticmethod
    def preflight_headers(origin: str | None, requested: str | None) -> dict[str, str]:
        headers = {"Vary": "Origin, Access-Control-Request-Headers", "Access-Control-Allow-Methods": METHODS,
                   "Access-Control-Max-Age": MAX_AGE}
        if origin is not None:
            headers["Access-Control-Allow-Origin"] = origin
        granted = granted_headers(requested)
        if granted:
            headers["Access-Control-Allow-Headers"] = ", ".join(granted)
        return headers


def granted_headers(requested: str | None) -> Sequence[str]:
    """The requested headers within the safe list; the browser refuses the request if one is missing."""
    if not requested:
        return ()
    names = (name.strip().lower() for name in requested.split(","))
    return [name for name in names if name in SAFE_REQUEST_HEADERS]


def source_origins(values: Iterable[str] | None) -> frozenset[str]:
    return frozenset(normalize(v) for v in values or ())


def with_cors(endpoint: Callable[[Request], Awaitable[Any]]) -> Callable[[Request], Awaitable[Any]]:
    """A plugin route's endpoint with the preflight answered and CORS headers on every answer."""
    from starlette.responses import Response

    from gateway.responses import error_response

    async def cors_endpoint(request: Request) -> Any:
        policy: CorsPolicy = request.app.state.gateway.cors
        origin = request.headers.get("origin")
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=policy.preflight_headers(
                origin, request.headers.get("access-control-request-headers")))
        try:
            response = await endpoint(request)
        except GatewayError as error:
            response = error_response(error)
        response.headers.update(policy.answer_headers(origin))
        return response

    cors_endpoint.__name__ = getattr(endpoint, "__name__", "cors_endpoint")
    cors_endpoint.__doc__ = endpoint.__doc__
    return cors_endpoint
