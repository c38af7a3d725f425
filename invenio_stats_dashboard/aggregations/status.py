"""Aggregation status per community: bookmark, document count, first/last day, completeness.

One paged composite aggregation per aggregation index serves every community.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from invenio_search import current_search_client

from ..core.bookmarks import AggregationBookmarks
from .documents import documents_by_community
from .registry import Aggregator, aggregators


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


def collect_status(community_ids: list[str]) -> dict[str, list[AggregationStatus]]:
    """Status of every registered aggregation for each community."""
    store = AggregationBookmarks()
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
