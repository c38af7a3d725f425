"""The COUNTER step of every aggregation run: new days of usage into the monthly item index.

One sorted pass over the enriched usage events of the days to write (plus the double-click
window of the following day), whatever the number of communities: the rules in
:mod:`.rules` turn it into per-day counts, :mod:`.store` adds each day to its month.
It keeps one bookmark (``counter-item-monthly`` / ``global``) like the daily
aggregations, so a run costs the new days only; like the usage aggregations it rewrites
yesterday too (events still arrive from invenio-stats' queue), and ``usage-events
migrate`` moves it back with theirs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta

from flask import current_app

from ..aggregations.run import CommunityOutcome, RunContext
from ..aggregations.usage import UsageReader
from ..core import indices
from ..core.engine import search_client
from ..core.ids import GLOBAL
from ..core.paging import search_after_pages
from .items import ItemLookup
from .rules import EVENT_FIELDS, WINDOW, CounterRules
from .store import write_day


class CounterItems:
    """What the run context needs to know of this step (it is not a daily aggregation)."""

    name = "counter-item-monthly"
    depends_on = None
    settle_days = 2
    date_field = "last_day"

    @property
    def alias(self) -> str:
        """The prefixed alias of the monthly index."""
        return indices.counter_items_alias()


COUNTER_ITEMS = CounterItems()


def counter_enabled() -> bool:
    """``COMMUNITY_STATS_COUNTER_ENABLED`` (default True)."""
    return bool(current_app.config.get("COMMUNITY_STATS_COUNTER_ENABLED", True))


def _events(start: date, end: date, page_size: int) -> Iterator[tuple[dict, bool]]:
    """Non-robot enriched events from ``start`` through the window after ``end``."""
    until = datetime.combine(end + timedelta(days=1), datetime.min.time()) + WINDOW
    body = {
        "query": {
            "bool": {
                "filter": [
                    {
                        "range": {
                            "timestamp": {
                                "gte": start.isoformat(),
                                "lte": until.isoformat(),
                            }
                        }
                    }
                ],
                "must_not": [{"term": {"is_robot": True}}],
            }
        },
        "sort": [{"timestamp": "asc"}, {"_id": "asc"}],
        "_source": EVENT_FIELDS,
    }
    for hits in search_after_pages(
        search_client,
        indices.enriched_patterns(),
        body,
        page_size,
        ignore_unavailable=True,
        allow_no_indices=True,
    ):
        for hit in hits:
            yield hit["_source"], indices.is_download_index(hit["_index"])


def run_counter(ctx: RunContext) -> CommunityOutcome | None:
    """Write the days the bookmark and options call for; None when there is nothing to do."""
    page_size = int(current_app.config.get("COMMUNITY_STATS_USAGE_PAGE_SIZE") or 5000)
    first = UsageReader(page_size).first_days([GLOBAL]).get(GLOBAL)
    window = ctx.window(COUNTER_ITEMS, GLOBAL, first)
    if window is None:
        return None
    began = time.monotonic()
    rules, lookup, written = CounterRules(), ItemLookup(), 0

    def store(days) -> int:
        count = 0
        for usage in days:
            if window.start <= usage.day <= window.end:
                metrics = usage.metrics()
                descriptions = lookup.describe({recid for _, recid, _ in metrics})
                count += write_day(usage.day, metrics, descriptions)
                ctx.heartbeat()
        return count

    for event, download in _events(window.start, window.end, page_size):
        written += store(rules.add(event, download))
        ctx.keep_alive()
    written += store(rules.finish())
    search_client.indices.refresh(index=COUNTER_ITEMS.alias, ignore_unavailable=True)
    ctx.add_time(COUNTER_ITEMS.name, time.monotonic() - began)
    return ctx.finish(COUNTER_ITEMS, GLOBAL, window, written)
