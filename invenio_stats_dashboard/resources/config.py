"""Configuration of the statistics REST resource (routes, formats, error handlers)."""

from __future__ import annotations

from flask import current_app, jsonify
from flask_resources import ResourceConfig
from werkzeug.exceptions import HTTPException

from ..queries.errors import QueryError
from .serializers import SERIALIZERS


def _json_error(status: int, message: str):
    response = jsonify({"status": status, "message": message})
    response.status_code = status
    return response


def handle_query_error(error: QueryError):
    """A query error as ``{"status", "message"}`` with its HTTP status."""
    return _json_error(error.status, error.message)


def handle_http_error(error: HTTPException):
    """Werkzeug's errors (404 route, 405 method, 406 format) as JSON too."""
    return _json_error(error.code or 500, error.description or error.name)


def handle_unexpected(error: Exception):
    """Anything else: logged, answered as a JSON 500 without internals."""
    current_app.logger.exception("statistics API failure")
    return _json_error(500, "The statistics could not be computed; the error was logged.")


class StatsDashboardResourceConfig(ResourceConfig):
    """``/api/stats-dashboard``: POST the reference body, or GET one query."""

    blueprint_name = "invenio_stats_dashboard_api"
    url_prefix = "/stats-dashboard"
    routes = {"queries": "", "query": "/<community_id>/<stat>"}
    serializers = SERIALIZERS
    default_accept_mimetype = "application/json"
    error_handlers = {
        QueryError: handle_query_error,
        HTTPException: handle_http_error,
        Exception: handle_unexpected,
    }
