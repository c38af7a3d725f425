"""Benchmark: the six records aggregations, full backfill and one new day.

    .venv/bin/python benchmarks/record_aggregations.py [--records 10000] [--communities 50]

Starts its own osmem-server (or uses INVENIO_SEARCH_HOSTS) and writes a synthetic site
straight into the search engine: ``--records`` record documents in the rdmrecords index
shape (versions sharing parents, files with extensions and sizes, owners, vocabulary
values), spread over three years (2022-2024), and their membership history in
``stats-community-events-YYYY`` (each record in 1-3 of ``--communities`` communities,
some joining late, some removed, some deleted and restored). Nothing goes through the
database, so the membership reconciliation is switched off.

Then, each in a child process (so its peak memory is its own):
1. backfill: ``aggregate --ignore-bookmark --end-date 2024-12-31`` (all six aggregations).
   Between two communities (the run's heartbeat), untimed and uncounted, the documents
   already measured are deleted but the last two days: the embedded engine holds every
   document in memory (about 100 KB each) and the full set would need some 50 GB;
2. incremental: one new day of 20 records created, published and added that day, then
   ``aggregate --end-date 2025-01-01``;
3. backdated: the next day, 5 records whose publication dates reach up to 120 days back:
   the published basis counts them from those days, so their communities' published
   series are rewritten from there (history changes move the bookmarks back).

Uses Redis db 12 (``BENCH_REDIS``) for its run lock and the database ``invenio_bench_aggs``
(``SQLALCHEMY_DATABASE_URI``; its tables are created, nothing is written to them: the
files query of each page of records finds none and the index's entries count). Prints
wall time, documents per second, search requests per document and per community-day
(every request through the client transport, bulk writes included) and peak RSS.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta

from common import count_requests, ensure_database, make_app, peak_rss_mb, running_engine

from invenio_stats_dashboard.core.indices import prefixed

START, END = date(2022, 1, 1), date(2024, 12, 31)
NEW_DAY = END + timedelta(days=1)
BACKDATED_DAY = NEW_DAY + timedelta(days=1)
RESOURCE_TYPES = [
    ("publication-article", "Journal article"),
    ("dataset", "Dataset"),
    ("software", "Software"),
    ("image-photo", "Photo"),
    ("publication-book", "Book"),
]
LANGUAGES = [("eng", "English"), ("fra", "French"), ("spa", "Spanish"), ("deu", "German")]
EXTENSIONS = ["pdf", "csv", "txt", "png", "zip"]


def bench_app():
    """The app on the engine the parent started (the database is not written to)."""
    return make_app(
        ast.literal_eval(os.environ["BENCH_SEARCH_HOSTS"]),
        "invenio_bench_aggs",
        12,
        COMMUNITY_STATS_EARLIEST_DATE=START.isoformat(),
        COMMUNITY_STATS_RECONCILE_BEFORE_AGGREGATION=False,
        COMMUNITY_STATS_TRACK_MEMBERSHIP=False,
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


def setup(records: int, communities: int) -> dict:
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
    counts = write_site(records, ids, START, END, seed=7)
    counts["seconds"] = time.monotonic() - began
    counts["community_ids"] = ids
    return counts


# --------------------------------------------------------------------------- child
def run_phase(phase: str, communities: list[str]) -> dict:
    """Child process: run one aggregation phase, count requests, report."""
    from invenio_search import current_search_client

    from invenio_stats_dashboard.aggregations.records import RECORDS_AGGREGATORS
    from invenio_stats_dashboard.aggregations.service import run_aggregations
    from invenio_stats_dashboard.core.engine import search_client

    requests = count_requests(current_search_client, search_client)
    day = {"incremental": NEW_DAY, "backdated": BACKDATED_DAY}.get(phase)
    if phase == "incremental":  # one new day: 20 records created and published that day
        write_site(20, communities, day, day, seed=99, lag=0, live=True)
    elif phase == "backdated":  # the next day: 5 records published up to 120 days before
        write_site(5, communities, day, day, seed=98, lag=120, live=True)
    requests["requests"] = 0
    names = [aggregator.name for aggregator in RECORDS_AGGREGATORS]
    if day is not None:
        began = time.monotonic()
        report = run_aggregations(end=day, names=names)
        return {
            "seconds": time.monotonic() - began,
            "documents": report.documents,
            "requests": requests["requests"],
            "timings": report.timings,
            "max_rss_mb": peak_rss_mb(),
        }
    # backfill: one run for all communities; between two communities (the run's
    # heartbeat; not timed, not counted) the documents already measured are dropped
    pruning = {"seconds": 0.0, "requests": 0}

    def prune() -> None:
        before, began = requests["requests"], time.monotonic()
        drop_measured_documents()
        pruning["seconds"] += time.monotonic() - began
        pruning["requests"] += requests["requests"] - before

    began = time.monotonic()
    report = run_aggregations(end=END, ignore_bookmark=True, names=names, heartbeat=prune)
    return {
        "seconds": time.monotonic() - began - pruning["seconds"],
        "documents": report.documents,
        "requests": requests["requests"] - pruning["requests"],
        "timings": report.timings,
        "max_rss_mb": peak_rss_mb(),
    }


def drop_measured_documents() -> None:
    """Delete the backfilled documents but the last two days.

    The embedded engine keeps every document in memory (about 100 KB each, five times
    its source): 50 communities x 3 years x 6 aggregations would need some 50 GB. The
    incremental run only needs the bookmarks and the last days.
    """
    from invenio_search import current_search_client

    keep = (END - timedelta(days=1)).isoformat()
    older = [{"range": {field: {"lt": keep}}} for field in ("snapshot_date", "period_start")]
    current_search_client.delete_by_query(
        index=prefixed("stats-community-records-*"),
        body={"query": {"bool": {"should": older, "minimum_should_match": 1}}},
        refresh=True,
        conflicts="proceed",
    )


def child_main(phase: str, communities: list[str]) -> None:
    app = bench_app()
    with app.app_context():
        print(json.dumps(run_phase(phase, communities)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--communities", type=int, default=50)
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--community-ids", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        child_main(args.phase, json.loads(args.community_ids))
        return

    with running_engine() as hosts:
        os.environ["BENCH_SEARCH_HOSTS"] = repr(hosts)
        app = bench_app()
        with app.app_context():
            site = setup(args.records, args.communities)
        print(
            f"site: {site['record']} records, {site['event']} membership events, "
            f"{args.communities} communities, {START} to {END} "
            f"(written in {site['seconds']:.1f}s)"
        )
        results = {}
        for phase in ("backfill", "incremental", "backdated"):
            completed = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--phase",
                    phase,
                    "--community-ids",
                    json.dumps(site["community_ids"]),
                ],
                capture_output=True,
                text=True,
                env=os.environ.copy(),
            )
            if completed.returncode:
                sys.exit(f"{phase} failed:\n{completed.stderr[-3000:]}")
            results[phase] = json.loads(completed.stdout.strip().splitlines()[-1])
        for phase, result in results.items():
            documents = result["documents"]
            community_days = documents / 6  # one day of one community, all six aggregations
            requests = result["requests"]
            print(f"\n{phase}:")
            print(f"  wall time              {result['seconds']:10.1f} s")
            print(f"  documents written      {documents:10d}  (community-days x 6 aggregations)")
            print(f"  documents / s          {documents / result['seconds']:10.0f}")
            print(f"  search requests        {requests:10d}")
            print(f"  requests/document      {requests / max(documents, 1):10.4f}")
            print(f"  requests/community-day {requests / max(community_days, 1):10.4f}  (all six)")
            print(f"  peak RSS               {result['max_rss_mb']:10.0f} MB")
            for name, seconds in sorted(result["timings"].items()):
                print(f"    {name:<40} {seconds:8.1f} s")
        share = results["incremental"]["seconds"] / results["backfill"]["seconds"]
        print(f"\nincremental / backfill time: {share:.1%}")
        share = results["backdated"]["seconds"] / results["backfill"]["seconds"]
        print(
            f"backdated / backfill time: {share:.1%} (published-basis series rewritten from "
            "the earliest publication day, as the data model's basis requires)"
        )


if __name__ == "__main__":
    main()
