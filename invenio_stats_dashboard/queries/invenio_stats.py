"""The same queries in invenio-stats' ``STATS_QUERIES``, so ``POST /api/stats`` serves them.

The extension registers every query name of :func:`~.service.query_names` with
:class:`StatsDashboardQuery` and :func:`permission_factory`.
"""

from __future__ import annotations

from flask import g

from .errors import QueryError
from .permissions import can_read
from .service import community_record, compute, parse_query, query_names


class StatsDashboardQuery:
    """An invenio-stats query class answering one of this package's queries."""

    def __init__(self, name: str, **kwargs):
        self.name = name
        self.metric_fields: dict = {}

    def run(self, **params):
        """The query's result (bad input raises ``ValueError``: invenio-stats' 400)."""
        try:
            query = parse_query(self.name, params)
        except QueryError as error:
            raise ValueError(error.message) from None
        result, _ = compute(query)
        return result


class _Permission:
    def __init__(self, community):
        self.community = community

    def can(self) -> bool:
        return can_read(g.identity, self.community)


def permission_factory(query_name: str, params: dict):
    """invenio-stats' permission factory: the community's readers (global: everyone)."""
    try:
        query = parse_query(query_name, params or {})
    except QueryError:
        return None  # the query itself answers the bad input (400)
    return _Permission(community_record(query.community_id))


def stats_queries() -> dict:
    """``STATS_QUERIES`` entries of every query of this package."""
    return {
        name: {"cls": StatsDashboardQuery, "permission_factory": permission_factory, "params": {}}
        for name in query_names()
    }
