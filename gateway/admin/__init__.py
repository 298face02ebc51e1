"""The sources admin: runtime sources (made through the API, persisted, shared by every process),
the sources JSON API and the /admin web page.

``SourceRegistry`` is started by the gateway; ``admin_routes()`` is mounted by the app.
"""

from gateway.admin.registry import SourceRegistry
from gateway.admin.routes import admin_routes

__all__ = ["SourceRegistry", "admin_routes"]
