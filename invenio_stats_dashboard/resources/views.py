"""Blueprints of the REST API (entry point ``invenio_base.api_blueprints``)."""

from __future__ import annotations

from .config import StatsDashboardResourceConfig
from .resource import StatsDashboardResource


def create_api_blueprint(app):
    """The ``/stats-dashboard`` blueprint of the API app."""
    return StatsDashboardResource(StatsDashboardResourceConfig()).as_blueprint()
