"""Benchmark: usage delta + snapshot aggregations for 50 communities over a year.

    .venv/bin/python benchmarks/usage_aggregations.py [--events 100000] [--records 500]

Starts its own osmem-server (or uses INVENIO_SEARCH_HOSTS), writes record documents, a
membership history over 50 communities and ``--events`` enriched events over 2024, then
runs both usage aggregations for the 50 communities and "global" over the whole year and
prints community-days per second and search requests per community-day (target <= 0.05).
"""

from __future__ import annotations

import argparse
import os
import random
import time
import uuid
from datetime import date

from common import count_requests, running_engine
from usage_migration import (
    bench_app,
    bulk,
    history_actions,
    raw_event_actions,
    record_docs,
    setup_indices,
)

MONTHS = tuple(f"2024-{m:02d}" for m in range(1, 13))


def enriched_actions(docs, count: int, rng: random.Random):
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

    for action in raw_event_actions(docs, count, rng, months=MONTHS):
        batch.append(action)
        if len(batch) >= 5000:
            yield from flush()
    yield from flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--records", type=int, default=500)
    args = parser.parse_args()
    with running_engine() as hosts:
        os.environ["BENCH_SEARCH_HOSTS"] = repr(hosts)
        app = bench_app()
        with app.app_context():
            from invenio_rdm_records.records.api import RDMRecord
            from invenio_search import current_search_client

            from invenio_stats_dashboard.aggregations.registry import get_aggregator
            from invenio_stats_dashboard.aggregations.run import RunContext
            from invenio_stats_dashboard.aggregations.usage import UsageRun
            from invenio_stats_dashboard.core.bookmarks import AggregationBookmarks
            from invenio_stats_dashboard.core.indices import record_class_alias

            setup_indices()
            rng = random.Random(7)
            communities = [str(uuid.uuid4()) for _ in range(50)]
            docs = record_docs(rng, args.records, communities)
            bulk(
                {"_index": record_class_alias(RDMRecord), "_id": d["uuid"], "_source": d}
                for d in docs
            )
            bulk(history_actions(docs, rng))
            current_search_client.indices.refresh()
            began = time.perf_counter()
            written = bulk(enriched_actions(docs, args.events, rng))
            current_search_client.indices.refresh()
            print(f"setup: {written} enriched events in {time.perf_counter() - began:.1f} s")

            ids = ["global", *communities]
            ctx = RunContext(end=date(2024, 12, 31), bookmarks=AggregationBookmarks())
            aggregators = [
                get_aggregator("community-usage-delta"),
                get_aggregator("community-usage-snapshot"),
            ]
            run = UsageRun(aggregators, ctx, ids)
            counter = count_requests(current_search_client)
            began = time.perf_counter()
            results = run.run()
            seconds = time.perf_counter() - began
            community_days = sum(o.documents for o in results["community-usage-delta"].values())
            snapshots = sum(o.documents for o in results["community-usage-snapshot"].values())
            print(
                f"aggregated {len(results['community-usage-delta'])} series: {community_days} "
                f"community-days (+{snapshots} snapshot documents) in {seconds:.1f} s = "
                f"{community_days / seconds:.0f} community-days/s"
            )
            searches = counter["searches"]
            print(
                f"search requests: {searches} = "
                f"{searches / community_days:.4f} per community-day (target <= 0.05); "
                f"{counter['requests']} requests in all (bulk writes and refreshes included)"
            )


if __name__ == "__main__":
    main()
