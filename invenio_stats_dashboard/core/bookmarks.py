"""Bookmarks: where long jobs resume. One store, two kinds.

Both live in the search engine (they survive restarts and ``status`` commands see them),
each kind in its own index behind its own alias:

- :class:`AggregationBookmarks` (``stats-bookmarks-community``): one per (aggregation,
  community), the last day fully written; plus named markers (moments, e.g. when the
  membership history was last looked at) and settings (values, e.g. the subcounts an
  aggregation's last complete run used). Id ``{aggregation}::{community_id}``.
- :class:`MigrationBookmarks` (``stats-bookmarks-reindexing``): one per (event type,
  month) of the usage migration, the exact resume point (``last_sort``) and the
  month's state. Id ``{event_type}-{month}``.

A bookmark is written after the work it stands for, so a killed run redoes at most
the work after it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from . import indices
from .bulk import bulk_write
from .days import day_of, to_datetime, utc_now
from .engine import search_client
from .paging import search_after_hits


class BookmarkIndex:
    """Documents by id in one of the bookmark indices (created on first write)."""

    alias_name = ""
    index_name = ""

    def __init__(self, client=None):
        """Use the given search client (default: Invenio's)."""
        self.client = client or search_client
        self._ensured = False

    @property
    def alias(self) -> str:
        """The prefixed alias."""
        return indices.prefixed(self.alias_name)

    @property
    def index(self) -> str:
        """The prefixed concrete index."""
        return indices.prefixed(self.index_name)

    def exists(self) -> bool:
        """True once the index exists."""
        return bool(self.client.indices.exists(index=self.alias))

    def _ensure(self) -> None:
        if not self._ensured:
            if not self.client.indices.exists(index=self.alias):
                self.client.indices.create(index=self.index, ignore=[400])
            self._ensured = True

    def write(self, doc_id: str, body: dict, refresh: bool = False) -> None:
        """Write one document (``updated_timestamp`` set now)."""
        self._ensure()
        body["updated_timestamp"] = utc_now().isoformat()
        self.client.index(index=self.index, id=doc_id, body=body, refresh=refresh)

    def read(self, doc_id: str) -> dict | None:
        """One document's source, or None."""
        if not self.exists():
            return None
        found = self.client.get(index=self.index, id=doc_id, ignore=[404])
        return found.get("_source") if found.get("found") else None

    def remove(self, doc_id: str) -> None:
        """Forget one document."""
        if self.exists():
            self.client.delete(index=self.index, id=doc_id, refresh=True, ignore=[404])

    def hits(self, query: dict, sort: list[dict], source: list[str] | None = None):
        """Every document matching ``query`` (the index refreshed first, paged)."""
        if not self.exists():
            return
        self.client.indices.refresh(index=self.alias)
        body: dict = {"query": query, "sort": sort}
        if source is not None:
            body["_source"] = source
        yield from search_after_hits(self.client, self.alias, body, 1000)


class AggregationBookmarks(BookmarkIndex):
    """Aggregation bookmarks: read all of an aggregation at once, write them one by one."""

    alias_name = indices.AGGREGATION_BOOKMARKS
    index_name = indices.AGGREGATION_BOOKMARKS_INDEX

    def __init__(self, client=None):
        super().__init__(client)
        self._cache: dict[str, dict[str, date]] = {}

    @staticmethod
    def doc_id(aggregation: str, community_id: str) -> str:
        """Id of one bookmark."""
        return f"{aggregation}::{community_id}"

    @staticmethod
    def marker_id(name: str) -> str:
        """Id of a named marker."""
        return f"marker::{name}"

    def preload(self, aggregations: Iterable[str]) -> None:
        """Read the bookmarks of several aggregations at once (one paged read)."""
        wanted = [name for name in dict.fromkeys(aggregations) if name not in self._cache]
        if not wanted:
            return
        found: dict[str, dict[str, date]] = {name: {} for name in wanted}
        for hit in self.hits(
            {"terms": {"aggregation": wanted}},
            [{"aggregation": "asc"}, {"community_id": "asc"}],
            ["aggregation", "community_id", "date"],
        ):
            source = hit["_source"]
            found[source["aggregation"]][source["community_id"]] = day_of(source["date"])
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
        self.write(
            self.doc_id(aggregation, community_id),
            {"aggregation": aggregation, "community_id": community_id, "date": day.isoformat()},
        )
        self._load(aggregation)[community_id] = day

    def set_many(self, aggregation: str, days: dict[str, date]) -> None:
        """Store several communities' bookmarks of one aggregation in one bulk request."""
        if not days:
            return
        self._ensure()
        now = utc_now().isoformat()
        bulk_write(
            (
                {
                    "_op_type": "index",
                    "_index": self.index,
                    "_id": self.doc_id(aggregation, community_id),
                    "_source": {
                        "aggregation": aggregation,
                        "community_id": community_id,
                        "date": day.isoformat(),
                        "updated_timestamp": now,
                    },
                }
                for community_id, day in days.items()
            ),
            client=self.client,
        )
        self._load(aggregation).update(days)

    def move_back(self, aggregation: str, community_ids: Iterable[str], day: date) -> list[str]:
        """Set these communities' bookmarks to ``day`` where they are later; returns those moved."""
        moved = []
        for community_id in community_ids:
            current = self.get(aggregation, community_id)
            if current is not None and current > day:
                self.set(aggregation, community_id, day)
                moved.append(community_id)
        return moved

    def forget(self, aggregation: str, community_id: str) -> None:
        """Drop one bookmark."""
        self.remove(self.doc_id(aggregation, community_id))
        self._load(aggregation).pop(community_id, None)

    def get_marker(self, name: str) -> datetime | None:
        """A named moment stored beside the bookmarks (naive UTC), or None."""
        source = self.read(self.marker_id(name))
        return to_datetime(source["date"]) if source else None

    def set_marker(self, name: str, moment: datetime) -> None:
        """Store a named moment (naive UTC or aware)."""
        self.write(
            self.marker_id(name),
            {
                "aggregation": self.marker_id(name),
                "community_id": "-",
                "date": to_datetime(moment).isoformat(),
            },
        )

    @staticmethod
    def setting_id(name: str) -> str:
        """Id of a named setting."""
        return f"setting::{name}"

    def get_setting(self, name: str) -> str | None:
        """A named value stored beside the bookmarks (e.g. settings results used), or None."""
        source = self.read(self.setting_id(name))
        return source["community_id"] if source else None

    def set_setting(self, name: str, value: str) -> None:
        """Store a named value (in the keyword field; ``date`` says when)."""
        self.write(
            self.setting_id(name),
            {
                "aggregation": self.setting_id(name),
                "community_id": value,
                "date": utc_now().isoformat(),
            },
        )


MIGRATION_STATES = ("copying", "stopped", "failed", "migrated")


class MigrationBookmarks(BookmarkIndex):
    """Usage migration bookmarks: one document per (event type, month)."""

    alias_name = indices.MIGRATION_BOOKMARKS
    index_name = indices.MIGRATION_BOOKMARKS_INDEX

    @staticmethod
    def doc_id(event_type: str, month: str) -> str:
        """Id of a month's bookmark."""
        return f"{event_type}-{month}"

    def get(self, event_type: str, month: str) -> dict | None:
        """The bookmark of a month, or None."""
        return self.read(self.doc_id(event_type, month))

    def save(self, doc: dict) -> None:
        """Write a month's bookmark (visible to ``status`` at once)."""
        self.write(self.doc_id(doc["event_type"], doc["month"]), doc, refresh=True)

    def all(self) -> list[dict]:
        """Every month's bookmark, by event type and month."""
        return [
            hit["_source"]
            for hit in self.hits({"match_all": {}}, [{"event_type": "asc"}, {"month": "asc"}])
        ]

    def clear(self, event_types: list[str] | None = None, months: list[str] | None = None) -> int:
        """Delete the bookmarks of these event types and months (all when both are empty)."""
        removed = 0
        for doc in self.all():
            if event_types and doc["event_type"] not in event_types:
                continue
            if months and doc["month"] not in months:
                continue
            self.remove(self.doc_id(doc["event_type"], doc["month"]))
            removed += 1
        return removed
