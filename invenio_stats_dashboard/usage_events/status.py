"""``usage-events status``: per event type and month, counts, progress and state."""

from __future__ import annotations

from ..core.bookmarks import MigrationBookmarks
from ..core.engine import search_client
from . import indices


def _counts(names: list[str]) -> dict[str, int]:
    """Document counts of many indices in one request."""
    if not names:
        return {}
    res = search_client.cat.indices(
        index=",".join(names), format="json", h="index,docs.count", ignore=[404]
    )
    if isinstance(res, dict):
        return {}
    return {row["index"]: int(row.get("docs.count") or 0) for row in res}


def migration_status() -> list[dict]:
    """One row per (event type, month) that has a raw or an enriched index."""
    bookmarks = {(b["event_type"], b["month"]): b for b in MigrationBookmarks().all()}
    rows = []
    for event_type in indices.EVENT_TYPES:
        raw, enriched = indices.list_indices(event_type)
        holders = indices.alias_holders(event_type)
        names = [indices.raw_index(event_type, m) for m in raw]
        names += [indices.enriched_index(event_type, m) for m in enriched]
        if names:
            search_client.indices.refresh(index=",".join(names))
        counts = _counts(names)
        for month in sorted(raw | enriched):
            source = indices.raw_index(event_type, month)
            target = indices.enriched_index(event_type, month)
            bm = bookmarks.get((event_type, month))
            source_count = counts.get(source, 0) if month in raw else None
            target_count = counts.get(target, 0) if month in enriched else 0
            if target in holders:
                readers = "enriched"
            elif source in holders:
                readers = "raw"
            else:
                readers = "-"
            if month not in raw:
                state, progress = "enriched at write", None
            else:
                state = bm["state"] if bm else "pending"
                done = (bm or {}).get("written", 0)
                progress = 100.0 if not source_count else min(100.0, 100.0 * done / source_count)
                if state == "migrated":
                    progress = 100.0
            rows.append(
                {
                    "event_type": event_type,
                    "month": month,
                    "source_count": "-" if source_count is None else source_count,
                    "target_count": target_count,
                    "progress": progress,
                    "readers": readers,
                    "state": state,
                    "bookmark": bm,
                }
            )
    return rows
