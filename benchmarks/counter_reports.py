"""Benchmark: COUNTER's monthly item aggregation and the IR / PR reports of a year.

    .venv/bin/python benchmarks/counter_reports.py [--events 200000] [--records 500]

The usage migration benchmark's data (``usage_migration.py``: ``--records`` record
documents in 50 communities, ``--events`` views and downloads in invenio-stats' shape,
2% robots, 2.5% machines), spread over the twelve months of 2024 and written straight into
the enriched indices. Then, each in its own process (so each peak memory is its own):

- the COUNTER step of an aggregation run over the year (time, events/s, search
  requests, monthly documents, peak memory);
- IR and PR of 2024 for the whole repository over the API (Flask's test client: routing,
  access checks, the report, JSON) and for the busiest community (the report builder),
  each asked three times (the best time is printed), bytes, peak memory.

Uses the database ``invenio_bench_counter`` and Redis db 12.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import resource
import subprocess
import sys
import time
import uuid
from datetime import date

from common import count_requests, make_app, running_engine
from usage_migration import bulk, record_docs, setup_indices

MONTHS = tuple(f"2024-{m:02d}" for m in range(1, 13))
END = date(2024, 12, 31)


def bench_app():
    return make_app(
        ast.literal_eval(os.environ["BENCH_SEARCH_HOSTS"]),
        "invenio_bench_counter",
        12,
        COMMUNITY_STATS_EARLIEST_DATE="2024-01-01",
        COMMUNITY_STATS_CACHE_WARM_AFTER_AGGREGATION=False,
        COMMUNITY_STATS_COUNTER_PLATFORM="Bench Repository",
    )


def enriched_actions(docs, count: int, rng: random.Random):
    """Enriched events of 2024 (the records' communities), as the migration writes them."""
    from usage_migration import raw_event_actions

    from invenio_stats_dashboard.core.indices import enriched_index, is_download_index
    from invenio_stats_dashboard.record_facts import record_facts
    from invenio_stats_dashboard.usage_events.enrichment import enrich_event

    facts = {d["id"]: record_facts(d) for d in docs}
    for action in raw_event_actions(docs, count, rng, months=MONTHS):
        doc = action["_source"]
        record = facts[doc["recid"]]
        download = is_download_index(action["_index"])
        name = "file-download" if download else "record-view"
        enrich_event(doc, record, record["current_community_ids"], name)
        kind = "download" if download else "view"
        yield {
            "_index": enriched_index(kind, doc["timestamp"][:7]),
            "_id": action["_id"],
            "_source": doc,
        }


def child_aggregate() -> dict:
    from invenio_search import current_search_client

    from invenio_stats_dashboard.aggregations.run import RunContext
    from invenio_stats_dashboard.core.engine import search_client
    from invenio_stats_dashboard.counter.aggregation import run_counter

    counter = count_requests(current_search_client, search_client)
    began = time.perf_counter()
    outcome = run_counter(RunContext(end=END))
    seconds = time.perf_counter() - began
    return {
        "seconds": seconds,
        "documents": outcome.documents if outcome else 0,
        "search_requests": counter["searches"],
        "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


def child_reports(app, community: str) -> dict:
    """Reports of the whole repository over the API; of a community (whose id exists only
    in the synthetic documents, not in the database) from the report builder itself."""
    from invenio_stats_dashboard.counter.access import Customer
    from invenio_stats_dashboard.counter.params import parse_report_request
    from invenio_stats_dashboard.counter.reports import build_report

    client = app.test_client()
    params = {"customer_id": "bench", "begin_date": "2024-01", "end_date": "2024-12"}
    out = {}
    for report, extra in (
        ("ir", {"attributes_to_show": "Access_Method|YOP|Access_Type"}),
        ("pr", {"attributes_to_show": "Access_Method"}),
    ):
        times, size, body = [], 0, {}
        for _ in range(3):
            began = time.perf_counter()
            if community == "global":
                response = client.get(
                    f"/counter/r51/reports/{report}",
                    query_string={**params, **extra},
                    base_url="https://localhost",
                )
                assert response.status_code == 200, response.data[:300]
                data, body = response.data, response.json
            else:
                request = parse_report_request(report, {**params, **extra})
                body = build_report(request, Customer("bench", "The World"), community)
                data = json.dumps(body).encode()
            times.append(time.perf_counter() - began)
            size = len(data)
        items = sum(len(group.get("Items", [group])) for group in body["Report_Items"])
        out[report] = {"seconds": min(times), "bytes": size, "items": items}
    out["maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return out


def run_child(mode: str, community: str = "global") -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--community", community],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        check=False,
    )
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
        sys.exit(1)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--records", type=int, default=500)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--community", default="global", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        app = bench_app()
        with app.app_context():
            if args.child == "aggregate":
                figures = child_aggregate()
            else:
                figures = child_reports(app, args.community)
        print(json.dumps(figures))
        return
    with running_engine() as hosts:
        os.environ["BENCH_SEARCH_HOSTS"] = repr(hosts)
        app = bench_app()
        with app.app_context():
            from invenio_rdm_records.records.api import RDMRecord
            from invenio_search import current_search_client

            from invenio_stats_dashboard.core.indices import record_class_alias

            setup_indices()
            rng = random.Random(42)
            communities = [str(uuid.uuid4()) for _ in range(50)]
            docs = record_docs(rng, args.records, communities)
            bulk(
                {"_index": record_class_alias(RDMRecord), "_id": d["uuid"], "_source": d}
                for d in docs
            )
            began = time.perf_counter()
            written = bulk(enriched_actions(docs, args.events, rng))
            current_search_client.indices.refresh()
            print(f"wrote {written} enriched events of 2024 in {time.perf_counter() - began:.0f} s")
            busiest = max(
                communities, key=lambda c: sum(c in d["parent"]["communities"]["ids"] for d in docs)
            )
        figures = run_child("aggregate")
        rate = args.events / figures["seconds"]
        print(
            f"COUNTER aggregation of 2024: {figures['seconds']:.1f} s = {rate:.0f} events/s, "
            f"{figures['documents']} monthly item documents, "
            f"{figures['search_requests']} search requests, "
            f"peak memory {figures['maxrss_kb'] / 1024:.0f} MB"
        )
        for label, community in (("whole repository", "global"), ("one community", busiest)):
            reports = run_child("reports", community)
            for report in ("ir", "pr"):
                r = reports[report]
                print(
                    f"{report.upper()} 2024, {label}: {r['seconds'] * 1000:.0f} ms, "
                    f"{r['items']} items/rows, {r['bytes']:,} bytes"
                )
            print(f"  peak memory of the reporting process: {reports['maxrss_kb'] / 1024:.0f} MB")


if __name__ == "__main__":
    main()
