"""Benchmark: usage delta + snapshot aggregations for 50 communities over a year.

    .venv/bin/python benchmarks/usage_aggregations.py [--events 100000] [--records 500]
        [--scales 1,4]

For each scale (history size: ``--events`` times the scale), starts its own
osmem-server (or uses INVENIO_SEARCH_HOSTS), writes record documents, a membership
history over 50 communities and the enriched events over 2024, then runs both usage
aggregations for the 50 communities and "global" over the whole year (community-days per
second, search requests per community-day, target <= 0.05), adds one new day of events
(an average day's) and runs again from the bookmarks: the incremental run's time and
requests. Then, in a child process (so its peak memory is its own), both usage
aggregations of "global" alone over the whole year again (``ignore_bookmark``): its
peak RSS ("global" reads every event). Last, the ratios at the largest and smallest
scale of the incremental run times (target <= 1.3: an incremental run costs what the
new day costs, not the history) and of the global aggregation's peak RSS (target
<= 1.3).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
import uuid
from datetime import date

from common import count_requests, peak_rss_mb, run_json_child, running_engine
from usage_migration import (
    bench_app,
    bulk,
    history_actions,
    raw_event_actions,
    record_docs,
    setup_indices,
)

MONTHS = tuple(f"2024-{m:02d}" for m in range(1, 13))
YEAR_END = date(2024, 12, 31)
NEW_DAY = date(2025, 1, 1)


def enriched_actions(docs, count: int, rng: random.Random, span=None):
    """Raw events enriched as the migration does, straight into the -v2.0.0 indices."""
    from invenio_stats_dashboard.usage_events import indices
    from invenio_stats_dashboard.usage_events.lookup import BatchEnricher

    enricher = BatchEnricher()
    batch = []

    def flush():
        for name in ("record-view", "file-download"):
            events = [
                a for a in batch if ("file-download" in a["_index"]) == (name == "file-download")
            ]
            enricher.enrich([a["_source"] for a in events], name)
        for action in batch:
            event_type = "download" if "file-download" in action["_index"] else "view"
            month = action["_source"]["timestamp"][:7]
            action["_index"] = indices.enriched_index(event_type, month)
        yield from batch
        batch.clear()

    for action in raw_event_actions(docs, count, rng, months=MONTHS, span=span):
        batch.append(action)
        if len(batch) >= 5000:
            yield from flush()
    yield from flush()


def measure(events: int, records: int) -> dict:
    """A year of ``events`` for 50 communities: the full run, then one new day's run."""
    with running_engine() as hosts:
        os.environ["BENCH_SEARCH_HOSTS"] = repr(hosts)
        app = bench_app()
        with app.app_context():
            from invenio_rdm_records.records.api import RDMRecord
            from invenio_search import current_search_client

            from invenio_stats_dashboard.core.engine import search_client
            from invenio_stats_dashboard.core.indices import record_class_alias

            setup_indices()
            rng = random.Random(7)
            communities = [str(uuid.uuid4()) for _ in range(50)]
            docs = record_docs(rng, records, communities)
            bulk(
                {"_index": record_class_alias(RDMRecord), "_id": d["uuid"], "_source": d}
                for d in docs
            )
            bulk(history_actions(docs, rng))
            current_search_client.indices.refresh()
            began = time.perf_counter()
            written = bulk(enriched_actions(docs, events, rng))
            current_search_client.indices.refresh()
            print(f"setup: {written} enriched events in {time.perf_counter() - began:.1f} s")

            ids = ["global", *communities]
            counter = count_requests(current_search_client, search_client)
            full = timed_run(ids, YEAR_END, counter)
            # one new day, as many events as an average day of the year
            per_day = max(events // 365, 1)
            bulk(enriched_actions(docs, per_day, rng, span=(NEW_DAY, NEW_DAY)))
            current_search_client.indices.refresh()
            incremental = timed_run(ids, NEW_DAY, counter)
        alone = global_alone()
        return {"events": events, "full": full, "incremental": incremental, "global": alone}


def global_alone() -> dict:
    """Both usage aggregations of "global" over the whole year, in a child process."""
    return run_json_child(__file__, ["--global-job"], "the global aggregation")


def global_job() -> None:
    """Child: run "global" alone from the year's first day; print seconds and peak RSS."""
    app = bench_app()
    with app.app_context():
        began = time.perf_counter()
        result = timed_run(["global"], NEW_DAY, {"searches": 0, "requests": 0}, fresh=True)
        result.update(seconds=time.perf_counter() - began, max_rss_mb=peak_rss_mb())
        print(json.dumps(result))


def timed_run(ids: list[str], end: date, counter: dict, fresh: bool = False) -> dict:
    """One run of both usage aggregations from the bookmarks (``fresh``: from the first
    day, as ``--ignore-bookmark``): seconds, documents, searches."""
    from invenio_stats_dashboard.aggregations.registry import get_aggregator
    from invenio_stats_dashboard.aggregations.run import RunContext
    from invenio_stats_dashboard.aggregations.usage import UsageRun
    from invenio_stats_dashboard.core.bookmarks import AggregationBookmarks

    ctx = RunContext(end=end, bookmarks=AggregationBookmarks(), ignore_bookmark=fresh)
    aggregators = [
        get_aggregator("community-usage-delta"),
        get_aggregator("community-usage-snapshot"),
    ]
    before = dict(counter)
    began = time.perf_counter()
    results = UsageRun(aggregators, ctx, ids).run()
    seconds = time.perf_counter() - began
    return {
        "seconds": seconds,
        "community_days": sum(o.documents for o in results["community-usage-delta"].values()),
        "snapshots": sum(o.documents for o in results["community-usage-snapshot"].values()),
        "searches": counter["searches"] - before["searches"],
        "requests": counter["requests"] - before["requests"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="events at scale 1")
    parser.add_argument("--records", type=int, default=500)
    parser.add_argument("--scales", default="1,4", help="history sizes to measure (1,4)")
    parser.add_argument("--global-job", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.global_job:
        global_job()
        return
    figures = []
    for scale in [int(s) for s in args.scales.split(",")]:
        result = measure(args.events * scale, args.records)
        figures.append(result)
        full, inc = result["full"], result["incremental"]
        print(
            f"{scale}x ({result['events']} events): full run {full['community_days']} "
            f"community-days in {full['seconds']:.1f} s = "
            f"{full['community_days'] / full['seconds']:.0f} community-days/s, "
            f"{full['searches'] / full['community_days']:.4f} searches per community-day "
            "(target <= 0.05)"
        )
        print(
            f"{scale}x: incremental run after one new day: {inc['seconds']:.2f} s, "
            f"{inc['community_days']} community-days, {inc['searches']} searches, "
            f"{inc['requests']} requests in all"
        )
        alone = result["global"]
        print(
            f'{scale}x: "global" alone over the year: {alone["seconds"]:.1f} s, '
            f"peak RSS {alone['max_rss_mb']:.0f} MB"
        )
    if len(figures) > 1:
        ratio = figures[-1]["incremental"]["seconds"] / figures[0]["incremental"]["seconds"]
        print(
            f"incremental run time, {args.scales.split(',')[-1]}x / "
            f"{args.scales.split(',')[0]}x history: {ratio:.2f} (target <= 1.3)"
        )
        rss = figures[-1]["global"]["max_rss_mb"] / figures[0]["global"]["max_rss_mb"]
        print(f'peak RSS of "global" alone, same ratio: {rss:.2f} (target <= 1.3)')


if __name__ == "__main__":
    main()
