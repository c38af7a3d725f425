"""Flask extension of invenio-stats-dashboard."""

from flask import Flask

from . import config

CONFIG_PREFIXES = ("COMMUNITY_STATS_", "STATS_DASHBOARD_")


class InvenioStatsDashboard:
    """Register the configuration and services of the community statistics."""

    def __init__(self, app: Flask | None = None):
        """Initialise the extension, now or later through ``init_app``."""
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Set config defaults and register the extension."""
        self.init_config(app)
        app.extensions["invenio-stats-dashboard"] = self

    @staticmethod
    def init_config(app: Flask) -> None:
        """Copy every default of ``config.py`` that the instance did not set."""
        for key in dir(config):
            if key.startswith(CONFIG_PREFIXES):
                app.config.setdefault(key, getattr(config, key))
