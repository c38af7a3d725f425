"""Benchmark: the six records aggregations, full backfill, one new day, and how they scale.

    .venv/bin/python benchmarks/record_aggregations.py [--records 10000] [--communities 50]
        [--scales 1,4] [--community-counts 20,200] [--skip-base]

Starts its own osmem-server per site (or uses INVENIO_SEARCH_HOSTS) and writes a
synthetic site straight into the search engine: ``--records`` record documents in the
rdmrecords index shape (versions sharing parents, files with extensions and sizes,
owners, vocabulary values), spread over three years (2022-2024), and their membership
history in ``stats-community-events-YYYY`` (each record in 1-3 of ``--communities``
communities, some joining late, some removed, some deleted and restored). Nothing goes
through the database, so the membership reconciliation is switched off.

Base phases, each in a child process (so its peak memory is its own):
1. backfill: ``aggregate --ignore-bookmark --end-date 2024-12-31`` (all six aggregations).
   Between two communities (the run's heartbeat), untimed and uncounted, the documents
   already measured are deleted but the last two days: the embedded engine holds every
   document in memory (about 100 KB each) and the full set would need some 50 GB;
2. incremental: one new day of 20 records created, published and added that day, then
   ``aggregate --end-date 2025-01-01``;
3. backdated: the next day, 5 records whose publication dates reach up to 120 days back:
   the published basis counts them from those days, so their communities' published
   series are rewritten from there (history changes move the bookmarks back).

Scale phase (``--scales``, multiples of ``--records`` on a one-year site of 2024, the
runs' earliest date set to its last 30 days: every record is read and counted, earlier
days are folded onto the first, so the backfill is short): per scale, the global
aggregation alone from scratch (its peak RSS: "global" is the largest community), the
backfill, then one new day (20 records in 5 communities): its time and requests.
Printed with the 4x/1x ratios the targets are about. Each phase's time is also split
into the time spent waiting for the search engine's answers and the rest (this
package: Python and the workspaces' SQL): the embedded engine answers range filters by
scanning its documents, so its share grows with the site where a real cluster's would
use its indices.

The records workspaces (``COMMUNITY_STATS_WORKSPACE_DIR``) live in a temporary folder
per site: the "global" phase starts without one, the backfill writes them (the size of
global's is printed) and the incremental run goes on from them, as on a site.

Communities phase (``--community-counts``): sites of 2,000 records over 90 days with 20
and 200 communities (earliest date: the site's first day); after the backfill, the same
new day (20 records in the first 5 communities): the incremental run's search requests
at each count and their ratio.

``BENCH_PROFILE=<path prefix>`` runs each phase's child under cProfile and writes
``<prefix>-<phase>.prof``.

The cache warm-up queued after a run (a Celery task of its own on a site; eager here) is
switched off, so the figures are the aggregation's own.

Uses Redis db 12 (``BENCH_REDIS``) for its run lock and the database ``invenio_bench_aggs``
(``SQLALCHEMY_DATABASE_URI``; its tables are created, nothing is written to them: the
files query of each page of records finds none and the index's entries count). Prints
wall time, documents per second, search requests per document and per community-day
(every request, bulk writes included) and peak RSS.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from common import (
    count_requests,
    ensure_database,
    make_app,
    peak_rss_mb,
    run_json_child,
    running_engine,
)

from invenio_stats_dashboard.core.indices import prefixed

START, END = date(2022, 1, 1), date(2024, 12, 31)
RESOURCE_TYPES = [
    ("publication-article", "Journal article"),
    ("dataset", "Dataset"),
    ("software", "Software"),
    ("image-photo", "Photo"),
    ("publication-book", "Book"),
]
LANGUAGES = [("eng", "English"), ("fra", "French"), ("spa", "Spanish"), ("deu", "German")]
EXTENSIONS = ["pdf", "csv", "txt", "png", "zip"]


def bench_app(**config):
    """The app on the engine the parent started (the database is not written to)."""
    settings = {
        "COMMUNITY_STATS_EARLIEST_DATE": START.isoformat(),
        "COMMUNITY_STATS_RECONCILE_BEFORE_AGGREGATION": False,
        "COMMUNITY_STATS_TRACK_MEMBERSHIP": False,
        # on a site the warm-up is a Celery task of its own, not part of the run
        "COMMUNITY_STATS_CACHE_WARM_AFTER_AGGREGATION": False,
        **config,
    }
    return make_app(
        ast.literal_eval(os.environ["BENCH_SEARCH_HOSTS"]), "invenio_bench_aggs", 12, **settings
    )


# --------------------------------------------------------------------------- data
def record_doc(
    rng: random.Random, record_id: str, parent_id: str, owner: int, created: date, lag: int = 900
):
    """One record document in the rdmrecords index shape (published up to ``lag`` days
    before it was created)."""
    files = {}
    if rng.random() < 0.7:
        for n in range(rng.randint(1, 4)):
            ext = rng.choice(EXTENSIONS)
            files[f"file{n}.{ext}"] = rng.randint(1_000, 5_000_000)
    rt_id, rt_title = rng.choice(RESOURCE_TYPES)
    languages = rng.sample(LANGUAGES, rng.randint(1, 2))
    published = created - timedelta(days=rng.randint(0, lag))
    return {
        "uuid": record_id,
        "id": record_id[:10],
        "pid": {"pk": 1, "pid_type": "recid", "status": "R", "obj_type": "rec"},
        "created": f"{created.isoformat()}T12:00:00+00:00",
        "updated": f"{created.isoformat()}T12:00:00+00:00",
        "is_published": True,
        "is_deleted": False,
        "deletion_status": "P",
        "versions": {"index": 1, "is_latest": True},
        "parent": {
            "id": parent_id,
            "access": {"owned_by": {"user": str(owner)}},
        },
        "access": {
            "record": "public",
            "files": "public",
            "status": "open" if files else "metadata-only",
        },
        "files": {
            "enabled": bool(files),
            "count": len(files),
            "totalbytes": sum(files.values()),
            "entries": [
                {"key": key, "ext": key.rsplit(".", 1)[1], "size": size}
                for key, size in files.items()
            ],
        },
        "metadata": {
            "title": f"Record {record_id[:8]}",
            "publication_date": published.isoformat(),
            "publisher": f"Publisher {rng.randint(1, 30)}",
            "resource_type": {"id": rt_id, "title": {"en": rt_title}},
            "languages": [{"id": i, "title": {"en": t}} for i, t in languages],
            "subjects": [
                {"id": f"subject-{s}", "subject": f"Subject {s}", "scheme": "FAST"}
                for s in rng.sample(range(60), rng.randint(0, 3))
            ],
            "rights": [{"id": "cc-by-4.0", "title": {"en": "CC BY 4.0"}}],
            "funding": [{"funder": {"id": f"funder-{rng.randint(1, 25)}", "name": "A funder"}}]
            if rng.random() < 0.3
            else [],
            "creators": [
                {
                    "person_or_org": {"name": "Doe, Jane", "type": "personal"},
                    "affiliations": [{"id": f"aff-{rng.randint(1, 40)}", "name": "An institute"}],
                }
            ],
        },
    }


def event(record_id, community_id, event_type, day: date, created: date, published: str):
    """One membership event in the data model's shape (written when it happened)."""
    return {
        "record_id": record_id,
        "community_id": community_id,
        "event_type": event_type,
        "event_date": f"{day.isoformat()}T10:00:00",
        "record_created_date": f"{created.isoformat()}T12:00:00",
        "record_published_date": published,
        "is_deleted": False,
        "deleted_date": None,
        "timestamp": f"{day.isoformat()}T10:00:01",
        "updated_timestamp": f"{day.isoformat()}T10:00:01",
    }


def site_documents(rng, count, communities, first: date, last: date, lag: int = 900):
    """Yield ``(index kind, doc id, document)`` for records and their history."""
    span = (last - first).days
    parents: list[tuple[str, int, list[str]]] = []
    for _ in range(count):
        created = first + timedelta(days=rng.randint(0, span))
        record_id = str(uuid.uuid4())
        if parents and rng.random() < 0.2:  # a new version of an earlier record
            parent_id, owner, chosen = rng.choice(parents)
        else:
            parent_id, owner = str(uuid.uuid4()), rng.randint(1, 800)
            chosen = rng.sample(communities, rng.randint(1, 3))
            parents.append((parent_id, owner, chosen))
        doc = record_doc(rng, record_id, parent_id, owner, created, lag)
        published = doc["metadata"]["publication_date"]
        yield "record", record_id, doc
        yield "event", None, event(record_id, "global", "added", created, created, published)
        for community in chosen:
            added = created + timedelta(days=rng.choice([0, 0, 0, rng.randint(1, 90)]))
            if added > last:
                continue
            yield "event", None, event(record_id, community, "added", added, created, published)
            if rng.random() < 0.05:
                removed = added + timedelta(days=rng.randint(1, 200))
                if removed <= last:
                    yield (
                        "event",
                        None,
                        event(record_id, community, "removed", removed, created, published),
                    )
        if rng.random() < 0.02:  # deleted, sometimes restored
            deleted = created + timedelta(days=rng.randint(1, 300))
            if deleted <= last:
                for community in ["global", *chosen]:
                    yield (
                        "event",
                        None,
                        event(record_id, community, "removed", deleted, created, published),
                    )
                    if rng.random() < 0.3 and deleted + timedelta(days=10) <= last:
                        yield (
                            "event",
                            None,
                            event(
                                record_id,
                                community,
                                "added",
                                deleted + timedelta(days=10),
                                created,
                                published,
                            ),
                        )


def write_site(
    count: int,
    communities: list[str],
    first: date,
    last: date,
    seed: int,
    lag: int = 900,
    live: bool = False,
) -> dict:
    """Bulk the synthetic site into the engine; returns counts.

    The history is dated as if written when each change happened; ``live`` stamps it
    with the time of writing (changes made after the last aggregation run).
    """
    from invenio_rdm_records.records.api import RDMRecord
    from invenio_search import current_search_client
    from opensearchpy.helpers import bulk

    from invenio_stats_dashboard.core.indices import prefixed

    rng = random.Random(seed)
    counts = {"record": 0, "event": 0}

    now = datetime.now(UTC).isoformat(timespec="seconds")

    def actions():
        for kind, doc_id, doc in site_documents(rng, count, communities, first, last, lag):
            counts[kind] += 1
            if live and kind == "event":
                doc["timestamp"] = doc["updated_timestamp"] = now
            if kind == "record":
                yield {"_index": RDMRecord.index._name, "_id": doc_id, "_source": doc}
            else:
                index = prefixed(f"stats-community-events-{doc['event_date'][:4]}")
                yield {"_index": index, "_source": doc}

    bulk(current_search_client, actions(), chunk_size=1000, request_timeout=300)
    current_search_client.indices.refresh()
    return counts


def setup(records: int, communities: int, first: date = START, last: date = END) -> dict:
    """Templates, the records index and the synthetic site (parent process).

    The benchmark's own Redis db is emptied first: a killed earlier run's lock would
    refuse the backfill for up to COMMUNITY_STATS_AGGREGATION_LOCK_TIMEOUT seconds.
    """
    import redis
    from flask import current_app
    from invenio_rdm_records.records.api import RDMRecord
    from invenio_search import current_search

    redis.Redis.from_url(current_app.config["CACHE_REDIS_URL"]).flushdb()
    ensure_database(current_app)  # empty: files of these index-only records come from the index
    for put in (
        current_search.put_templates,
        current_search.put_component_templates,
        current_search.put_index_templates,
    ):
        list(put())
    list(current_search.create(ignore_existing=True, index_list=[RDMRecord.index._name]))
    ids = [str(uuid.uuid4()) for _ in range(communities)]
    began = time.monotonic()
    counts = write_site(records, ids, first, last, seed=7)
    counts["seconds"] = time.monotonic() - began
    counts["community_ids"] = ids
    return counts


# --------------------------------------------------------------------------- child
def run_phase(job: dict) -> dict:
    """Child process: run one aggregation phase, count requests, report.

    ``job``: ``phase`` (backfill, global, incremental, backdated), ``communities`` (all
    ids), ``news`` (the communities new records join), ``last`` (the site's last day).
    """
    from invenio_search import current_search_client

    from invenio_stats_dashboard.aggregations.records import RECORDS_AGGREGATORS
    from invenio_stats_dashboard.aggregations.service import run_aggregations
    from invenio_stats_dashboard.core.engine import search_client

    phase, last = job["phase"], date.fromisoformat(job["last"])
    news = job.get("news") or job["communities"]
    requests = count_requests(current_search_client, search_client)
    day = None
    if phase == "incremental":  # one new day: 20 records created and published that day
        day = last + timedelta(days=1)
        write_site(20, news, day, day, seed=99, lag=0, live=True)
    elif phase == "backdated":  # the next day: 5 records published up to 120 days before
        day = last + timedelta(days=2)
        write_site(5, news, day, day, seed=98, lag=120, live=True)
    requests["requests"] = requests["searches"] = 0
    requests["seconds"] = 0.0
    names = [aggregator.name for aggregator in RECORDS_AGGREGATORS]
    if day is not None:
        began = time.monotonic()
        report = run_aggregations(end=day, names=names)
        return {
            "seconds": time.monotonic() - began,
            "documents": report.documents,
            "requests": requests["requests"],
            "searches": requests["searches"],
            "engine_seconds": requests["seconds"],
            "timings": report.timings,
            "max_rss_mb": peak_rss_mb(),
        }
    # backfill: one run for all communities (or global alone); between two communities
    # (the run's heartbeat; not timed, not counted) the documents measured are dropped
    pruning = {"seconds": 0.0, "requests": 0, "searches": 0, "engine": 0.0}

    def prune() -> None:
        before, searches, began = requests["requests"], requests["searches"], time.monotonic()
        waited = requests["seconds"]
        drop_measured_documents(last)
        pruning["seconds"] += time.monotonic() - began
        pruning["requests"] += requests["requests"] - before
        pruning["searches"] += requests["searches"] - searches
        pruning["engine"] += requests["seconds"] - waited

    began = time.monotonic()
    report = run_aggregations(
        community_ids=["global"] if phase == "global" else None,
        end=last,
        ignore_bookmark=True,
        names=names,
        heartbeat=prune,
    )
    return {
        "seconds": time.monotonic() - began - pruning["seconds"],
        "documents": report.documents,
        "requests": requests["requests"] - pruning["requests"],
        "searches": requests["searches"] - pruning["searches"],
        "engine_seconds": requests["seconds"] - pruning["engine"],
        "timings": report.timings,
        "max_rss_mb": peak_rss_mb(),
    }


def drop_measured_documents(last: date) -> None:
    """Delete the backfilled documents but the last two days.

    The embedded engine keeps every document in memory (about 100 KB each, five times
    its source): 50 communities x 3 years x 6 aggregations would need some 50 GB. The
    incremental run only needs the bookmarks and the last days.
    """
    from invenio_search import current_search_client

    keep = (last - timedelta(days=1)).isoformat()
    older = [{"range": {field: {"lt": keep}}} for field in ("snapshot_date", "period_start")]
    current_search_client.delete_by_query(
        index=prefixed("stats-community-records-*"),
        body={"query": {"bool": {"should": older, "minimum_should_match": 1}}},
        refresh=True,
        conflicts="proceed",
    )


def child_main(job: dict) -> None:
    app = bench_app(
        COMMUNITY_STATS_EARLIEST_DATE=job.get("earliest") or START.isoformat(),
        COMMUNITY_STATS_WORKSPACE_DIR=job["workspaces"],
    )
    with app.app_context():
        profile = os.environ.get("BENCH_PROFILE")
        if not profile:
            print(json.dumps(run_phase(job)))
            return
        import cProfile

        with cProfile.Profile() as profiler:
            result = run_phase(job)
        profiler.dump_stats(f"{profile}-{job['phase']}.prof")
        print(json.dumps(result))


def run_child(job: dict) -> dict:
    """One phase in a child process (its peak memory is its own)."""
    return run_json_child(__file__, ["--job", json.dumps(job)], job["phase"])


def print_result(phase: str, result: dict) -> None:
    documents = result["documents"]
    community_days = documents / 6  # one day of one community, all six aggregations
    requests = result["requests"]
    print(f"\n{phase}:")
    print(f"  wall time              {result['seconds']:10.1f} s")
    print(f"  waiting for the engine {result['engine_seconds']:10.1f} s  (the rest: this package)")
    print(f"  documents written      {documents:10d}  (community-days x 6 aggregations)")
    print(f"  documents / s          {documents / max(result['seconds'], 1e-9):10.0f}")
    print(f"  requests (searches)    {requests:10d}  ({result['searches']})")
    print(f"  requests/document      {requests / max(documents, 1):10.4f}")
    print(f"  requests/community-day {requests / max(community_days, 1):10.4f}  (all six)")
    print(f"  peak RSS               {result['max_rss_mb']:10.0f} MB")
    if "workspace_mb" in result:
        print(f"  workspace of global    {result['workspace_mb']:10.1f} MB on disk")
    for name, seconds in sorted(result["timings"].items()):
        print(f"    {name:<40} {seconds:8.1f} s")


def on_site(
    records: int,
    communities: int,
    first: date,
    last: date,
    phases,
    news: int = 0,
    earliest: date | None = None,
):
    """A fresh engine with one synthetic site; run ``phases``; their results by name.

    ``earliest``: ``COMMUNITY_STATS_EARLIEST_DATE`` of the runs (days before it are
    folded onto it: every record is still read and counted, fewer days are written).
    """
    with running_engine() as hosts:
        os.environ["BENCH_SEARCH_HOSTS"] = repr(hosts)
        app = bench_app()
        with app.app_context():
            site = setup(records, communities, first, last)
        print(
            f"site: {site['record']} records, {site['event']} membership events, "
            f"{communities} communities, {first} to {last} "
            f"(written in {site['seconds']:.1f}s)"
        )
        ids = site["community_ids"]
        job = {
            "communities": ids,
            "news": ids[:news] if news else ids,
            "last": last.isoformat(),
            "earliest": (earliest or START).isoformat(),
        }
        found = {}
        with tempfile.TemporaryDirectory() as kept:
            for phase in phases:
                # "global" starts from nothing; the others keep their workspaces
                folder = tempfile.mkdtemp(dir=kept) if phase == "global" else kept
                found[phase] = run_child({**job, "phase": phase, "workspaces": folder})
                workspace = Path(kept) / "global.sqlite"
                if phase == "backfill" and workspace.exists():
                    found[phase]["workspace_mb"] = workspace.stat().st_size / 2**20
        return found


def base(records: int, communities: int) -> None:
    results = on_site(records, communities, START, END, ("backfill", "incremental", "backdated"))
    for phase, result in results.items():
        print_result(phase, result)
    share = results["incremental"]["seconds"] / results["backfill"]["seconds"]
    print(f"\nincremental / backfill time: {share:.1%}")
    share = results["backdated"]["seconds"] / results["backfill"]["seconds"]
    print(
        f"backdated / backfill time: {share:.1%} (published-basis series rewritten from "
        "the earliest publication day, as the data model's basis requires)"
    )


def scale(records: int, communities: int, scales: list[int]) -> None:
    first, last = date(2024, 1, 1), END
    found = {}
    for factor in scales:
        print(f"\n=== scale {factor}x: {records * factor} records")
        found[factor] = on_site(
            records * factor,
            communities,
            first,
            last,
            ("global", "backfill", "incremental"),
            news=5,
            earliest=last - timedelta(days=29),
        )
        for phase, result in found[factor].items():
            print_result(f"{factor}x {phase}", result)
    low, high = min(scales), max(scales)
    if low == high:
        return
    print(f"\nscale summary ({high}x / {low}x):")
    for phase, label, key in (
        ("global", "global aggregation peak RSS", "max_rss_mb"),
        ("incremental", "incremental run time after one new day", "seconds"),
        ("incremental", "  of which waiting for the engine", "engine_seconds"),
        ("incremental", "  of which this package", "own_seconds"),
        ("incremental", "incremental run requests", "requests"),
        ("backfill", "backfill documents/s", None),
    ):
        a, b = found[low][phase], found[high][phase]
        for result in (a, b):
            result["own_seconds"] = result["seconds"] - result["engine_seconds"]
        if key is None:
            x, y = a["documents"] / a["seconds"], b["documents"] / b["seconds"]
        else:
            x, y = a[key], b[key]
        print(f"  {label:<42} {x:10.1f} -> {y:10.1f}   ratio {y / max(x, 1e-9):5.2f}")


def community_counts(counts: list[int]) -> None:
    first, last = date(2024, 10, 3), END
    found = {}
    for count in counts:
        print(f"\n=== {count} communities")
        found[count] = on_site(
            2000, count, first, last, ("backfill", "incremental"), news=5, earliest=first
        )
        for phase, result in found[count].items():
            print_result(f"{count} communities {phase}", result)
    low, high = min(counts), max(counts)
    if low == high:
        return
    a, b = found[low]["incremental"], found[high]["incremental"]
    print("\nincremental run after one new day (20 records in 5 communities):")
    for count in counts:
        r = found[count]["incremental"]
        print(
            f"  {count:4d} communities: {r['requests']:5d} requests ({r['searches']} searches), "
            f"{r['documents']} documents, {r['seconds']:.1f} s"
        )
    print(f"  requests {high} / {low} communities: ratio {b['requests'] / a['requests']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--communities", type=int, default=50)
    parser.add_argument("--scales", default="1,4", help="multiples of --records ('' to skip)")
    parser.add_argument("--community-counts", default="20,200", help="('' to skip)")
    parser.add_argument("--skip-base", action="store_true", help="only the other phases")
    parser.add_argument("--job", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.job:
        child_main(json.loads(args.job))
        return
    if not args.skip_base:
        base(args.records, args.communities)
    if args.scales:
        scale(args.records, args.communities, [int(x) for x in args.scales.split(",")])
    if args.community_counts:
        community_counts([int(x) for x in args.community_counts.split(",")])


if __name__ == "__main__":
    main()
