"""Migration bookmarks: one document per (event type, month) in ``stats-bookmarks-reindexing``.

A bookmark is the exact resume point of a month's copy (``last_sort``: the sort values
``[timestamp, _id]`` of the last event written) plus the month's state. It is written
after the batch it stands for, so a killed run re-reads nothing it already wrote.
"""

from __future__ import annotations

from datetime import UTC, datetime

from invenio_search import current_search_client
from invenio_search.utils import prefix_index

INDEX = "stats-bookmarks-reindexing"
STATES = ("copying", "stopped", "failed", "migrated")


def now_iso() -> str:
    """Current UTC time, ISO 8601."""
    return datetime.now(UTC).isoformat()


class ReindexingBookmarks:
    """Read and write migration bookmarks (created on first use)."""

    def __init__(self):
        self.alias = prefix_index(INDEX)
        self.index = prefix_index(f"{INDEX}-v1.0.0")
        self._ensured = False

    def _ensure(self) -> None:
        if not self._ensured:
            if not current_search_client.indices.exists(index=self.alias):
                current_search_client.indices.create(index=self.index, ignore=[400])
            self._ensured = True

    @staticmethod
    def doc_id(event_type: str, month: str) -> str:
        """Document id of a month's bookmark."""
        return f"{event_type}-{month}"

    def get(self, event_type: str, month: str) -> dict | None:
        """The bookmark of a month, or ``None``."""
        if not current_search_client.indices.exists(index=self.alias):
            return None
        res = current_search_client.get(
            index=self.index, id=self.doc_id(event_type, month), ignore=[404]
        )
        return res.get("_source") if res.get("found") else None

    def save(self, doc: dict) -> None:
        """Write a bookmark (visible to ``status`` at once)."""
        self._ensure()
        doc["updated_timestamp"] = now_iso()
        current_search_client.index(
            index=self.index,
            id=self.doc_id(doc["event_type"], doc["month"]),
            body=doc,
            refresh=True,
        )

    def all(self) -> list[dict]:
        """Every bookmark (a handful per month: paged anyway)."""
        if not current_search_client.indices.exists(index=self.alias):
            return []
        current_search_client.indices.refresh(index=self.alias)
        body = {"size": 500, "sort": [{"event_type": "asc"}, {"month": "asc"}]}
        out = []
        while True:
            hits = current_search_client.search(index=self.alias, body=body)["hits"]["hits"]
            out.extend(h["_source"] for h in hits)
            if len(hits) < body["size"]:
                return out
            body["search_after"] = hits[-1]["sort"]

    def clear(self, event_types: list[str] | None = None, months: list[str] | None = None) -> int:
        """Delete the bookmarks of these event types and months (all when both are empty)."""
        removed = 0
        for doc in self.all():
            if event_types and doc["event_type"] not in event_types:
                continue
            if months and doc["month"] not in months:
                continue
            current_search_client.delete(
                index=self.index,
                id=self.doc_id(doc["event_type"], doc["month"]),
                refresh=True,
                ignore=[404],
            )
            removed += 1
        return removed
