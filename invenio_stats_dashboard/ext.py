"""Flask extension of invenio-stats-dashboard."""

from flask import Flask, current_app

from . import config
from .usage_events.builders import configure_stats_events

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
        configure_stats_events(app)
        self.register_stats_queries(app)
        self.register_beat_schedule(app)
        app.extensions["invenio-stats-dashboard"] = self
        # membership history: live tracking hooks (membership/tracking.py)
        from .membership.tracking import register_membership_hooks

        register_membership_hooks(app)
        # stats follow created-date repairs by the importer (aggregations/rewinds.py)
        from .aggregations.rewinds import connect_repair_receiver

        connect_repair_receiver()

    @property
    def enabled(self) -> bool:
        """``COMMUNITY_STATS_ENABLED``: the master switch every command and task obeys."""
        return bool(current_app.config.get("COMMUNITY_STATS_ENABLED", True))

    @property
    def scheduled_tasks_enabled(self) -> bool:
        """``COMMUNITY_STATS_SCHEDULED_TASKS_ENABLED``: scheduled aggregation runs."""
        return bool(current_app.config.get("COMMUNITY_STATS_SCHEDULED_TASKS_ENABLED", True))

    @staticmethod
    def register_stats_queries(app: Flask) -> None:
        """Serve this package's queries through invenio-stats' ``/api/stats`` too.

        A site's own entry of the same name wins.
        """
        from .queries.invenio_stats import stats_queries

        app.config["STATS_QUERIES"] = {**stats_queries(), **(app.config.get("STATS_QUERIES") or {})}

    @staticmethod
    def register_beat_schedule(app: Flask) -> None:
        """Schedule ``COMMUNITY_STATS_CELERYBEAT_SCHEDULE``, so no site pastes it.

        Merged into ``CELERY_BEAT_SCHEDULE`` while ``COMMUNITY_STATS_ENABLED`` and
        ``COMMUNITY_STATS_SCHEDULED_TASKS_ENABLED`` are True; a site's own entry of the same
        name wins. Celery copies the config when its extension starts, which may be before
        this one, so its copy is updated too.
        """
        if not (
            app.config["COMMUNITY_STATS_ENABLED"]
            and app.config["COMMUNITY_STATS_SCHEDULED_TASKS_ENABLED"]
        ):
            return
        schedule = {
            **app.config["COMMUNITY_STATS_CELERYBEAT_SCHEDULE"],
            **(app.config.get("CELERY_BEAT_SCHEDULE") or {}),
        }
        app.config["CELERY_BEAT_SCHEDULE"] = schedule
        celery_ext = app.extensions.get("flask-celeryext")
        if celery_ext is not None and celery_ext.celery is not None:
            celery_ext.celery.conf.beat_schedule = schedule

    @staticmethod
    def init_config(app: Flask) -> None:
        """Copy every default of ``config.py`` that the instance did not set."""
        for key in dir(config):
            if key.startswith(CONFIG_PREFIXES):
                app.config.setdefault(key, getattr(config, key))


def finalize_app(app: Flask) -> None:
    """Once every extension is initialised (UI app): tracked inclusion requests, menus."""
    from .membership.tracking import track_registered_inclusion_requests
    from .ui.views import register_menus

    track_registered_inclusion_requests(app)
    register_menus(app)


def api_finalize_app(app: Flask) -> None:
    """Once every extension is initialised (API app): tracked inclusion requests."""
    from .membership.tracking import track_registered_inclusion_requests

    track_registered_inclusion_requests(app)
