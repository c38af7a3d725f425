"""Blueprints of the REST API (entry point ``invenio_base.api_blueprints``)."""

from __future__ import annotations

from .config import StatsDashboardResourceConfig
from .resource import StatsDashboardResource


def create_api_blueprint(app):
    """The ``/stats-dashboard`` blueprint of the API app.

    Its POST only reads (several queries in one body), so it is exempt from Invenio's
    CSRF check: a page an anonymous visitor opened (who has a session cookie but no CSRF
    cookie yet) can ask for statistics, and a cross-site request could change nothing
    and read nothing (the same-origin policy keeps the answer from it).
    """
    blueprint = StatsDashboardResource(StatsDashboardResourceConfig()).as_blueprint()
    csrf = app.extensions.get("invenio-csrf")
    if csrf is not None and hasattr(csrf, "exempt"):
        csrf.exempt(blueprint)
    return blueprint
