"""Proxies to the running extension."""

from flask import current_app
from werkzeug.local import LocalProxy

current_stats_dashboard = LocalProxy(lambda: current_app.extensions["invenio-stats-dashboard"])

DISABLED_MESSAGE = "Community stats are disabled (COMMUNITY_STATS_ENABLED is False)."
"""What every command and task says when the master switch is off."""
