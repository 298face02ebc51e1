"""The paths Segment-style clients post to: Segment's and RudderStack's, and DIDWW messaging's copy."""

from __future__ import annotations

from gateway import DialectRoute

SINGLE_TYPES = ("track", "identify", "page", "screen", "group", "alias")
# Both carry {"batch": [...]}; Segment's import is the same body, meant for historical events.
MANY_KINDS = ("batch", "import")
PREFIXES = ("/v1", "/analytics/v1")


def _routes() -> tuple[DialectRoute, ...]:
    routes = []
    for prefix in PREFIXES:
        for kind in SINGLE_TYPES:
            routes.append(DialectRoute(f"{prefix}/{kind}", kind=kind, summary=f"One {kind} event"))
        for kind in MANY_KINDS:
            routes.append(DialectRoute(f"{prefix}/{kind}", kind=kind,
                                       summary='{"batch": [...]} of events, each with its own type'))
    return tuple(routes)


ROUTES = _routes()
