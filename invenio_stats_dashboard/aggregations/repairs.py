"""Stats follow repairs: react to the importer's ``record_created_dates_updated`` signal.

When ``invenio importer update_created_dates`` changes records' ``created``, the
membership history's ``record_created_date`` is updated and the bookmarks of the
aggregations that depend on ``created`` move back to the day before the earliest
changed day (old or new), for every community holding those records and for global.
The next ``aggregate`` then recomputes from there, no ``--ignore-bookmark`` needed.
The importer works without this package: it only sends the signal.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from flask import current_app
from invenio_search import current_search_client

from ..communities import GLOBAL
from .bookmarks import BookmarkStore
from .sources import events_alias

CREATED_BASIS_AGGREGATIONS = (
    "community-records-delta-created",
    "community-records-snapshot-created",
)
GLOBAL_ADDED_AGGREGATIONS = (
    "community-records-delta-added",
    "community-records-snapshot-added",
)
"""For global, the added basis is the record's created day."""


def _day(value) -> date:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.date()
    if isinstance(value, date):
        return value
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return _day(parsed)


def communities_of_records(record_ids: Iterable[str]) -> set[str]:
    """Communities (global included) appearing in the records' membership history."""
    ids = sorted(set(record_ids))
    alias = events_alias()
    found: set[str] = set()
    if not ids or not current_search_client.indices.exists(index=alias):
        return found
    for position in range(0, len(ids), 1000):
        chunk = ids[position : position + 1000]
        after = None
        while True:
            composite = {"size": 1000, "sources": [{"c": {"terms": {"field": "community_id"}}}]}
            if after:
                composite["after"] = after
            response = current_search_client.search(
                index=alias,
                body={
                    "size": 0,
                    "query": {"terms": {"record_id": chunk}},
                    "aggs": {"c": {"composite": composite}},
                },
            )
            agg = response["aggregations"]["c"]
            found.update(bucket["key"]["c"] for bucket in agg["buckets"])
            after = agg.get("after_key")
            if not after or not agg["buckets"]:
                break
    return found


def rewind_created_bookmarks(changes: list[dict]) -> dict[str, list[str]]:
    """Move the created-basis bookmarks back for the records in ``changes``.

    Returns ``aggregation name -> communities whose bookmark moved``.
    """
    if not changes:
        return {}
    earliest = min(min(_day(c["old_created"]), _day(c["new_created"])) for c in changes)
    day = earliest - timedelta(days=1)
    communities = communities_of_records(str(c["record_id"]) for c in changes)
    communities.add(GLOBAL)
    store = BookmarkStore()
    moved = {}
    for name in CREATED_BASIS_AGGREGATIONS:
        moved[name] = store.move_back(name, sorted(communities), day)
    for name in GLOBAL_ADDED_AGGREGATIONS:
        moved[name] = store.move_back(name, [GLOBAL], day)
    return moved


def on_record_created_dates_updated(sender, changes: list[dict] | None = None, **kwargs):
    """Signal receiver: update the membership history, then rewind the bookmarks."""
    if not changes:
        return
    from ..events.api import update_record_created_dates

    update_record_created_dates(
        [{"record_id": str(c["record_id"]), "new_created": c["new_created"]} for c in changes]
    )
    moved = rewind_created_bookmarks(changes)
    current_app.logger.info(
        "created dates of %d records changed; bookmarks moved back: %s",
        len(changes),
        {name: len(ids) for name, ids in moved.items()},
    )


def connect_repair_receiver() -> None:
    """Connect the receiver to the importer's signal (when the importer is installed)."""
    try:
        from invenio_record_importer_kcworks.signals import record_created_dates_updated
    except ImportError:
        return
    record_created_dates_updated.connect(on_record_created_dates_updated, weak=False)
