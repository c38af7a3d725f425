"""What can be wrong with a statistics query, as exceptions that know their HTTP status."""

from __future__ import annotations


class QueryError(Exception):
    """A query that cannot be answered; ``status`` is the HTTP status it maps to."""

    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidQuery(QueryError):
    """Bad input: unknown query or parameter, a bad or reversed date, a range too long."""


class CommunityNotFound(QueryError):
    """No live community has that id or slug."""

    status = 404


class QueryDenied(QueryError):
    """The identity may not read these statistics (401 anonymous, 403 authenticated)."""

    status = 403


class StatsDisabled(QueryError):
    """``COMMUNITY_STATS_ENABLED`` is False."""

    status = 503
