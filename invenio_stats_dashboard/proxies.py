"""Proxies to the running extension."""

from flask import current_app
from werkzeug.local import LocalProxy

current_stats_dashboard = LocalProxy(lambda: current_app.extensions["invenio-stats-dashboard"])
