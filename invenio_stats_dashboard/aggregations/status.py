"""Aggregation status per community: bookmark, document count, first/last day, completeness.

One paged composite aggregation per aggregation index serves every community.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from invenio_search import current_search_client

from ..communities import GLOBAL
from ..search.paging import composite_buckets
from .base import Aggregator, aggregators
from .bookmarks import BookmarkStore


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

    def completeness(self, today: date) -> float:
        """Share of the days from the first document to today that have a document."""
        if not self.first:
            return 0.0
        expected = (today - self.first).days + 1
        return min(1.0, self.documents / expected) if expected > 0 else 1.0


def metric_day(value) -> date | None:
    """The UTC day of a date aggregation's value (epoch millis or ISO text), or None."""
    if value is None:
        return None
    if isinstance(value, int | float):
        from datetime import UTC, datetime

        return datetime.fromtimestamp(value / 1000, tz=UTC).date()
    return date.fromisoformat(str(value)[:10])


def documents_by_community(aggregator: Aggregator, community_ids: list[str] | None = None) -> dict:
    """``community_id -> (count, first day, last day)`` from one paged composite aggregation.

    Empty when the aggregation's index does not exist yet.
    """
    if not current_search_client.indices.exists(index=aggregator.alias):
        return {}
    query = {"terms": {"community_id": community_ids}} if community_ids else {"match_all": {}}
    aggs = {
        "first": {"min": {"field": aggregator.date_field}},
        "last": {"max": {"field": aggregator.date_field}},
    }
    found = {}
    for bucket in composite_buckets(
        current_search_client, aggregator.alias, "community_id", query, aggs, size=500
    ):
        found[bucket["key"]] = (
            bucket["doc_count"],
            metric_day(bucket["first"].get("value_as_string") or bucket["first"].get("value")),
            metric_day(bucket["last"].get("value_as_string") or bucket["last"].get("value")),
        )
    return found


def collect_status(community_ids: list[str]) -> dict[str, list[AggregationStatus]]:
    """Status of every registered aggregation for each community."""
    store = BookmarkStore()
    result: dict[str, list[AggregationStatus]] = {c: [] for c in community_ids}
    for aggregator in aggregators():
        exists = bool(current_search_client.indices.exists(index=aggregator.alias))
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


def community_labels(community_ids: list[str] | None) -> dict[str, str]:
    """``community id -> slug`` for the given communities (default: every community)."""
    from invenio_communities.communities.records.models import CommunityMetadata

    query = CommunityMetadata.query.filter(CommunityMetadata.is_deleted.is_(False))
    labels = {str(row.id): row.slug for row in query.order_by(CommunityMetadata.slug)}
    if community_ids is None:
        return {GLOBAL: "global", **labels}
    return {c: "global" if c == GLOBAL else labels.get(c, c) for c in community_ids}
