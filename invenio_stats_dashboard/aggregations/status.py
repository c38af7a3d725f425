"""Aggregation status per community: series, latest totals, last day and lag.

One paged composite aggregation per aggregation index serves every community; the
latest totals are one paged read of the communities' last snapshot documents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from ..core.bookmarks import AggregationBookmarks
from ..core.days import day_range_query
from ..core.engine import search_client
from ..core.paging import search_after_hits
from .documents import documents_by_community, flat_metrics
from .registry import Aggregator, aggregators

TOTALS = {
    "community-record-snapshot-added": {
        "records": ("total_records.metadata_only", "total_records.with_files"),
        "files": ("total_files.file_count",),
        "volume": ("total_files.data_volume",),
    },
    "community-usage-snapshot": {
        "views": ("totals.view.total_events",),
        "downloads": ("totals.download.total_events",),
    },
}
"""The figures ``status`` shows: query type of a snapshot -> figure -> summed metrics."""
TOTALS_CHUNK = 200


@dataclass
class AggregationStatus:
    """State of one aggregation for one community."""

    aggregator: Aggregator
    index_exists: bool
    bookmark: date | None = None
    documents: int = 0
    first: date | None = None
    last: date | None = None

    def days_since_last(self, today: date) -> int | None:
        """Days between the last document and today."""
        return (today - self.last).days if self.last else None

    def missing_days(self) -> int | None:
        """Days without a document between the first and the last (None: no documents)."""
        if not self.documents or not self.first or not self.last:
            return None
        return (self.last - self.first).days + 1 - self.documents

    def completeness(self, today: date) -> float:
        """Share of the days from the first document to today that have a document."""
        if not self.first:
            return 0.0
        expected = (today - self.first).days + 1
        return min(1.0, self.documents / expected) if expected > 0 else 1.0


@dataclass
class CommunityStatus:
    """Every series of one community, its latest totals and how far behind it is."""

    community_id: str
    series: list[AggregationStatus]
    totals: dict[str, int | float | None] = field(default_factory=dict)
    """``records``, ``files``, ``volume``, ``views``, ``downloads`` on their last day."""

    @property
    def last(self) -> date | None:
        """The oldest last day of the series that have documents (None before any)."""
        days = [s.last for s in self.series if s.last]
        return min(days) if days else None

    def lag(self, today: date) -> int | None:
        """Days from :attr:`last` to today."""
        return (today - self.last).days if self.last else None

    def complete(self) -> int:
        """How many series have a document for every day from their first to their last."""
        return sum(1 for s in self.series if s.missing_days() == 0)


def community_status(community_ids: list[str]) -> list[CommunityStatus]:
    """Status of each community: its series (:func:`collect_status`) and latest totals."""
    series = collect_status(community_ids)
    result = [CommunityStatus(c, series[c]) for c in community_ids]
    for query_type, figures in TOTALS.items():
        found = [(s, a) for s in result for a in s.series if a.aggregator.query_type == query_type]
        latest = _last_documents([(s.community_id, a) for s, a in found if a.last])
        for status, _ in found:
            flat = latest.get(status.community_id)
            for figure, metrics in figures.items():
                status.totals[figure] = (
                    None if flat is None else sum(flat.get(m, 0) for m in metrics)
                )
    return result


def _last_documents(wanted: list[tuple[str, AggregationStatus]]) -> dict[str, dict]:
    """``community id -> flat metrics`` of each one's last document (paged, chunked)."""
    found: dict[str, dict] = {}
    for start in range(0, len(wanted), TOTALS_CHUNK):
        chunk = wanted[start : start + TOTALS_CHUNK]
        aggregator = chunk[0][1].aggregator
        field_name = aggregator.date_field
        should = [
            {
                "bool": {
                    "filter": [
                        {"term": {"community_id": community_id}},
                        day_range_query(field_name, status.last, status.last),
                    ]
                }
            }
            for community_id, status in chunk
        ]
        body = {
            "query": {"bool": {"should": should, "minimum_should_match": 1}},
            "_source": {"excludes": ["subcounts"]},
            "sort": [{"community_id": "asc"}, {field_name: "asc"}],
        }
        for hit in search_after_hits(search_client, aggregator.alias, body, 500):
            found[hit["_source"]["community_id"]] = flat_metrics(hit["_source"])
    return found


def collect_status(community_ids: list[str]) -> dict[str, list[AggregationStatus]]:
    """Status of every registered aggregation for each community."""
    store = AggregationBookmarks()
    result: dict[str, list[AggregationStatus]] = {c: [] for c in community_ids}
    for aggregator in aggregators():
        exists = bool(search_client.indices.exists(index=aggregator.alias))
        documents = documents_by_community(aggregator, community_ids) if exists else {}
        bookmarks = store.all(aggregator.name)
        for community_id in community_ids:
            count, first, last = documents.get(community_id, (0, None, None))
            result[community_id].append(
                AggregationStatus(
                    aggregator=aggregator,
                    index_exists=exists,
                    bookmark=bookmarks.get(community_id),
                    documents=count,
                    first=first,
                    last=last,
                )
            )
    return result
