"""The statistics query service, for the REST API, ``/api/stats`` and the cache warm-up.

A request names queries, each ``{"stat": <query>, "params": {...}}``:

- the eight raw document queries (``read --query-type``'s names): the daily documents;
- the meta-query ``community-stats`` (alias ``global-stats``): all eight at once;
- the four category queries of the dashboard (``record-delta-category``,
  ``record-snapshot-category``, ``usage-delta-category``, ``usage-snapshot-category``):
  data series (:mod:`.series`);
- ``top-records``: the most viewed and most downloaded records of the range (:mod:`.top`).

Params: ``community_id`` (UUID, slug or ``global``; default ``global``), ``start_date``
and ``end_date`` (``YYYY-MM-DD``, inclusive; default: the current year up to today),
``date_basis`` (``added``, ``created`` or ``published``; default ``added``; the record
categories follow it, the meta-query answers all eight document types). ``optimize``
is accepted and ignored (the reference dashboard sends it).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import date, timedelta

from flask import current_app

from ..aggregations.documents import document_day, read_documents
from ..aggregations.records.engine import BASES
from ..aggregations.registry import by_query_type
from ..aggregations.subcounts import active
from ..core.collector import collector_paused
from ..core.days import InvalidDate, parse_day, utc_today
from ..core.ids import GLOBAL, resolve_community_id
from ..core.ids import CommunityNotFound as UnknownCommunity
from ..proxies import DISABLED_MESSAGE, current_stats_dashboard
from . import series
from .errors import CommunityNotFound, InvalidQuery, QueryDenied, StatsDisabled
from .permissions import can_read

META_QUERIES = ("community-stats", "global-stats")
CATEGORY_QUERIES = (
    "record-delta-category",
    "record-snapshot-category",
    "usage-delta-category",
    "usage-snapshot-category",
)
TOP_RECORDS = "top-records"
PARAMS = ("community_id", "start_date", "end_date", "date_basis")
IGNORED_PARAMS = ("optimize",)


def query_names() -> list[str]:
    """Every query a request may name."""
    return [*by_query_type(), *META_QUERIES, *CATEGORY_QUERIES, TOP_RECORDS]


@dataclass(frozen=True)
class StatsQuery:
    """One validated query: what to compute, for whom, over which days."""

    stat: str
    community_id: str
    """A community UUID, or ``global``."""
    start: date
    end: date
    basis: str
    """``added``, ``created`` or ``published``; ``-`` for queries that do not follow one."""

    @property
    def settled(self) -> bool:
        """True when every day of the range is final (nothing will rewrite it)."""
        return self.end < utc_today() - timedelta(days=1)


def max_days() -> int:
    """``COMMUNITY_STATS_API_MAX_DAYS``: the longest range one query may ask for."""
    return int(current_app.config.get("COMMUNITY_STATS_API_MAX_DAYS") or 7320)


def parse_query(stat, params) -> StatsQuery:
    """Validate one query (raises :class:`InvalidQuery` / :class:`CommunityNotFound`)."""
    if not isinstance(stat, str) or stat not in query_names():
        raise InvalidQuery(f"Unknown query {stat!r}; valid queries: {', '.join(query_names())}")
    params = params if params is not None else {}
    if not isinstance(params, dict):
        raise InvalidQuery(f"The params of query {stat!r} must be an object")
    unknown = sorted(set(params) - set(PARAMS) - set(IGNORED_PARAMS))
    if unknown:
        raise InvalidQuery(
            f"Unknown parameter(s) for query {stat!r}: {', '.join(unknown)}; "
            f"valid: {', '.join(PARAMS)}"
        )
    try:
        end = parse_day(params.get("end_date"), "end_date") or utc_today()
        start = parse_day(params.get("start_date"), "start_date") or date(end.year, 1, 1)
    except InvalidDate as error:
        raise InvalidQuery(str(error)) from None
    if start > end:
        raise InvalidQuery(f"start_date {start} is after end_date {end}")
    if (end - start).days + 1 > max_days():
        raise InvalidQuery(
            f"The range {start} to {end} is longer than {max_days()} days "
            "(COMMUNITY_STATS_API_MAX_DAYS)"
        )
    basis = params.get("date_basis") or "added"
    if basis not in BASES:
        raise InvalidQuery(f"date_basis must be one of {', '.join(BASES)}, not {basis!r}")
    community = params.get("community_id") or GLOBAL
    if not isinstance(community, str):
        raise InvalidQuery("community_id must be a UUID, a slug or 'global'")
    try:
        community_id = resolve_community_id(community)
    except UnknownCommunity:
        raise CommunityNotFound(f"Community not found: {community}") from None
    return StatsQuery(stat, community_id, start, end, basis if follows_basis(stat) else "-")


def follows_basis(stat: str) -> bool:
    """True for the queries whose answer depends on ``date_basis``."""
    return stat in ("record-delta-category", "record-snapshot-category")


def community_record(community_id: str):
    """The community's record (None for global)."""
    if community_id == GLOBAL:
        return None
    from invenio_communities.proxies import current_communities

    return current_communities.service.record_cls.get_record(uuid.UUID(community_id))


def check_enabled() -> None:
    """Raise :class:`StatsDisabled` while ``COMMUNITY_STATS_ENABLED`` is False."""
    if not current_stats_dashboard.enabled:
        raise StatsDisabled(DISABLED_MESSAGE)


def require_read(identity, community_id: str, community=None) -> None:
    """Raise :class:`QueryDenied` unless ``identity`` may read the community's statistics.

    ``community``: its record when the caller already has it (None: read here).
    """
    if community is None and community_id != GLOBAL:
        community = community_record(community_id)
    if not can_read(identity, community):
        raise QueryDenied(f"You may not read the statistics of {community_id}")


def _raw(stat: str, query: StatsQuery) -> list[dict]:
    return read_documents(by_query_type()[stat], query.community_id, query.start, query.end)


def _snapshots(stat: str, query: StatsQuery) -> list[dict]:
    """Snapshot documents of every day, with subcounts on :func:`snapshot_item_days` only."""
    aggregator = by_query_type()[stat]
    cid = query.community_id
    daily = read_documents(aggregator, cid, query.start, query.end, exclude=["subcounts"])
    if not daily:
        return daily
    first, last = document_day(daily[0]), document_day(daily[-1])
    days = series.snapshot_item_days(first, last)
    full = read_documents(aggregator, cid, first, last, days=days)
    by_day = {document_day(doc): doc for doc in full}
    return [by_day.get(document_day(doc), doc) for doc in daily]


def compute(query: StatsQuery) -> tuple[object, date | None]:
    """The query's result and the last day it has data for (no permission check)."""
    with collector_paused():
        return _compute(query)


def _compute(query: StatsQuery) -> tuple[object, date | None]:
    stat = query.stat
    if stat in META_QUERIES:
        results = {name: _raw(name, query) for name in by_query_type()}
        last = _last_day([docs for docs in results.values() if docs])
        return results, last
    if stat in CATEGORY_QUERIES:
        kind = "delta" if "delta" in stat else "snapshot"
        read = _raw if kind == "delta" else _snapshots
        if stat.startswith("record"):
            documents = read(f"community-record-{kind}-{query.basis}", query)
            keys = list(active("COMMUNITY_STATS_SUBCOUNTS", usage=False))
            build = (
                series.record_delta_category if kind == "delta" else series.record_snapshot_category
            )
            return build(documents, keys), _last_day([documents])
        documents = read(f"community-usage-{kind}", query)
        kinds = active("COMMUNITY_STATS_USAGE_SUBCOUNTS", usage=True)
        build = series.usage_delta_category if kind == "delta" else series.usage_snapshot_category
        return build(documents, kinds), _last_day([documents])
    if stat == TOP_RECORDS:
        from .top import top_records

        usage_end = _raw("community-usage-delta", replace(query, start=query.end))
        return top_records(query.community_id, query.start, query.end), _last_day([usage_end])
    documents = _raw(stat, query)
    return documents, _last_day([documents])


def _last_day(lists: list[list[dict]]) -> date | None:
    """The earliest last day over the lists (None when any is empty)."""
    days = []
    for documents in lists:
        if not documents:
            return None
        days.append(document_day(documents[-1]))
    return min(days) if days else None
