"""Aggregation bookmarks: one per (aggregation, community), the last day fully written.

Stored in the search engine (index ``stats-bookmarks-community-v1`` behind the alias
``stats-bookmarks-community``), so they survive restarts and ``status`` sees them.
Document id ``{aggregation}::{community_id}``; fields ``aggregation``,
``community_id``, ``date`` (``YYYY-MM-DD``), ``updated_timestamp``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime

from invenio_search import current_search_client
from opensearchpy.helpers import scan

from .base import prefixed

BOOKMARKS_ALIAS = "stats-bookmarks-community"
BOOKMARKS_INDEX = "stats-bookmarks-community-v1"


def _bookmark_id(aggregation: str, community_id: str) -> str:
    return f"{aggregation}::{community_id}"


def _marker_id(name: str) -> str:
    return f"marker::{name}"


class BookmarkStore:
    """Read all bookmarks of an aggregation at once, write them one by one."""

    def __init__(self, client=None):
        """Use the given search client (default: Invenio's)."""
        self.client = client or current_search_client
        self._cache: dict[str, dict[str, date]] = {}

    @property
    def index(self) -> str:
        """The prefixed concrete index."""
        return prefixed(BOOKMARKS_INDEX)

    @property
    def alias(self) -> str:
        """The prefixed alias."""
        return prefixed(BOOKMARKS_ALIAS)

    def preload(self, aggregations: Iterable[str]) -> None:
        """Read the bookmarks of several aggregations at once (one scan)."""
        wanted = [name for name in dict.fromkeys(aggregations) if name not in self._cache]
        if not wanted:
            return
        found: dict[str, dict[str, date]] = {name: {} for name in wanted}
        if self.client.indices.exists(index=self.alias):
            self.client.indices.refresh(index=self.alias)
            hits = scan(
                self.client,
                index=self.alias,
                query={"query": {"terms": {"aggregation": wanted}}},
                size=5000,
                _source=["aggregation", "community_id", "date"],
            )
            for hit in hits:
                source = hit["_source"]
                found[source["aggregation"]][source["community_id"]] = date.fromisoformat(
                    source["date"][:10]
                )
        self._cache.update(found)

    def _load(self, aggregation: str) -> dict[str, date]:
        self.preload([aggregation])
        return self._cache[aggregation]

    def all(self, aggregation: str) -> dict[str, date]:
        """Every community's bookmark of one aggregation."""
        return dict(self._load(aggregation))

    def get(self, aggregation: str, community_id: str) -> date | None:
        """The last day fully written, or None."""
        return self._load(aggregation).get(community_id)

    def set(self, aggregation: str, community_id: str, day: date) -> None:
        """Store a bookmark (written at once, so a killed run keeps its progress)."""
        self.client.index(
            index=self.index,
            id=_bookmark_id(aggregation, community_id),
            body={
                "aggregation": aggregation,
                "community_id": community_id,
                "date": day.isoformat(),
                "updated_timestamp": datetime.now(UTC).isoformat(),
            },
        )
        self._load(aggregation)[community_id] = day

    def move_back(self, aggregation: str, community_ids: Iterable[str], day: date) -> list[str]:
        """Set the bookmarks of these communities to ``day`` where they are later.

        Returns the communities whose bookmark moved.
        """
        moved = []
        for community_id in community_ids:
            current = self.get(aggregation, community_id)
            if current is not None and current > day:
                self.set(aggregation, community_id, day)
                moved.append(community_id)
        return moved

    def get_marker(self, name: str) -> datetime | None:
        """A named moment stored beside the bookmarks (e.g. the history watermark)."""
        if not self.client.indices.exists(index=self.alias):
            return None
        self.client.indices.refresh(index=self.alias)
        response = self.client.search(
            index=self.alias,
            body={"size": 1, "query": {"ids": {"values": [_marker_id(name)]}}},
        )
        hits = response["hits"]["hits"]
        if not hits:
            return None
        moment = datetime.fromisoformat(hits[0]["_source"]["date"])
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    def set_marker(self, name: str, moment: datetime) -> None:
        """Store a named moment (UTC)."""
        self.client.index(
            index=self.index,
            id=_marker_id(name),
            body={
                "aggregation": _marker_id(name),
                "community_id": "-",
                "date": moment.astimezone(UTC).isoformat(),
                "updated_timestamp": datetime.now(UTC).isoformat(),
            },
        )

    def delete(self, aggregation: str, community_id: str) -> None:
        """Forget one bookmark."""
        self.client.delete(
            index=self.index, id=_bookmark_id(aggregation, community_id), ignore=[404]
        )
        self._load(aggregation).pop(community_id, None)
