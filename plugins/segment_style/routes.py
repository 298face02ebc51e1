"""The paths Segment-style clients post to: Segment's and RudderStack's, and DIDWW messaging's copy."""

from __future__ import annotations

import base64

from gateway import DialectRoute

SINGLE_TYPES = ("track", "identify", "page", "screen", "group", "alias")
# Both carry {"batch": [...]}; Segment's import is the same body, meant for historical events.
MANY_KINDS = ("batch", "import")
PREFIXES = ("/v1", "/analytics/v1")
# analytics-next posts each event to the first letter of its type, and batches to /b.
SHORT_PATHS = {kind[0]: kind for kind in SINGLE_TYPES} | {"b": "batch"}
PIXEL_TYPES = ("track", "page")
PIXEL_PREFIX = "pixel:"  # the kind of a pixel route: "pixel:track"

# A transparent 1x1 GIF: what an <img> tag (an email open) expects back, whatever happened.
GIF = ("image/gif", base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"))


def _routes() -> tuple[DialectRoute, ...]:
    routes = []
    for prefix in PREFIXES:
        for kind in SINGLE_TYPES:
            routes.append(DialectRoute(f"{prefix}/{kind}", kind=kind, summary=f"One {kind} event"))
        for kind in MANY_KINDS:
            routes.append(DialectRoute(f"{prefix}/{kind}", kind=kind,
                                       summary='{"batch": [...]} of events, each with its own type'))
        for short, kind in SHORT_PATHS.items():
            routes.append(DialectRoute(f"{prefix}/{short}", kind=kind,
                                       summary=f"analytics.js's short path for {kind}"))
    # RudderStack's browser SDK sends these with navigator.sendBeacon (no headers: the key is in the
    # query) and its pixel API with an <img> tag (the event is the query).
    routes.append(DialectRoute("/beacon/v1/batch", kind="batch", auth=("query_token",), query_key_params=("writeKey",),
                               summary='{"batch": [...]} sent with navigator.sendBeacon, ?writeKey=KEY'))
    for kind in PIXEL_TYPES:
        routes.append(DialectRoute(f"/pixel/v1/{kind}", kind=f"{PIXEL_PREFIX}{kind}", methods=("GET",),
                                   auth=("query_token",), query_key_params=("writeKey",), fixed_answer=GIF,
                                   summary=f"One {kind} event as query parameters (context.page.url=...); "
                                           "always answers a 1x1 GIF"))
    return tuple(routes)


ROUTES = _routes()
