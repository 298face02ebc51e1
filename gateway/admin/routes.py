"""The admin routes the app mounts: the sources API (admin key required) and the /admin page."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from gateway.admin import api, traffic
from gateway.admin.page import STATIC_DIR, admin_page
from gateway.admin_auth import admin_only

SOURCES = "/api/v1/sources"


def admin_routes() -> list[BaseRoute]:
    one = SOURCES + "/{name}"
    api_routes = [
        (SOURCES, api.list_sources, "GET", "admin_sources"),
        (SOURCES, api.create_source, "POST", "admin_create_source"),
        (one, api.show_source, "GET", "admin_source"),
        (one, api.delete_source, "DELETE", "admin_delete_source"),
        (one + "/rotate-key", api.rotate_key, "POST", "admin_rotate_key"),
        (one + "/status", api.source_status, "GET", "admin_source_status"),
        (one + "/events", api.source_events, "GET", "admin_source_events"),
        (one + "/rejections", api.source_rejections, "GET", "admin_source_rejections"),
        ("/api/v1/dialects", api.list_dialects, "GET", "admin_dialects"),
        ("/api/v1/traffic", traffic.traffic, "GET", "admin_traffic"),
    ]
    routes: list[BaseRoute] = [Route(path, admin_only(endpoint), methods=[method], name=name)
                               for path, endpoint, method, name in api_routes]
    routes += [
        Route("/admin", admin_page, methods=["GET"], name="admin_page"),
        Route("/admin/", admin_page, methods=["GET"]),
        Mount("/admin/static", StaticFiles(directory=STATIC_DIR), name="admin_static"),
    ]
    return routes
