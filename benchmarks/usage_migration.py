"""Benchmark: migrate raw view/download events into the enriched -v2.0.0 indices.

    .venv/bin/python benchmarks/usage_migration.py [--events 200000] [--records 500]

Starts its own osmem-server (or uses INVENIO_SEARCH_HOSTS), writes record documents, a
membership history and ``--events`` raw events in invenio-stats' stored shape (timing
that bulk write: the raw bulk indexing rate of the same documents on the same engine),
then runs ``usage-events migrate`` in a child process and prints its events/s, its peak
memory (max RSS) and the ratio to the raw rate. The search engine holds about 11 KB per
document: 200,000 events take about 4.4 GB (source and target).
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
from datetime import date, datetime, timedelta

from common import count_requests, ensure_database, make_app, running_engine

COMMUNITIES = 50
MONTHS = ("2024-01", "2024-02", "2024-03", "2024-04")


# --------------------------------------------------------------------------- app
def bench_app():
    """The app on the engine the parent started (its database holds no records: the
    records exist as index documents only, so files come from the index)."""
    return make_app(ast.literal_eval(os.environ["BENCH_SEARCH_HOSTS"]), "invenio_bench_usage", 6)


def setup_indices():
    """Database tables, templates (as ``invenio index init``) and the records index."""
    from flask import current_app
    from invenio_rdm_records.records.api import RDMRecord
    from invenio_search import current_search

    ensure_database(current_app)
    for put in (
        current_search.put_templates,
        current_search.put_component_templates,
        current_search.put_index_templates,
    ):
        list(put())
    list(current_search.create(ignore_existing=True, index_list=[RDMRecord.index._name]))


# --------------------------------------------------------------------------- data
def record_docs(rng: random.Random, count: int, communities: list[str]):
    """Record index documents (the fields the enrichment reads) and their memberships."""
    types = [("dataset", "Dataset"), ("publication-article", "Journal article")]
    docs = []
    for n in range(count):
        members = rng.sample(communities, rng.choice([0, 1, 1, 2, 3]))
        rtype = rng.choice(types)
        files = [
            {
                "key": f"file{k}.{rng.choice(['pdf', 'csv', 'txt'])}",
                "file_id": str(uuid.uuid4()),
                "size": rng.randrange(1000, 10**6),
            }
            for k in range(rng.choice([0, 1, 2]))
        ]
        docs.append(
            {
                "id": f"rec{n:05d}-bench",
                "uuid": str(uuid.uuid4()),
                "created": "2023-06-01T00:00:00",
                "is_published": True,
                "is_deleted": False,
                "parent": {
                    "id": f"par{n:05d}-bench",
                    "uuid": str(uuid.uuid4()),
                    "communities": {"ids": members},
                },
                "access": {"status": "open" if files else "metadata-only"},
                "metadata": {
                    "resource_type": {"id": rtype[0], "title": {"en": rtype[1]}},
                    "publisher": rng.choice(["Acme", "KC", "Zenodo"]),
                    "languages": [{"id": "eng", "title": {"en": "English"}}],
                    "subjects": [{"id": f"s{rng.randrange(30)}", "subject": "S", "scheme": "X"}],
                    "creators": [
                        {"affiliations": [{"id": f"aff{rng.randrange(20)}", "name": "A"}]}
                    ],
                },
                "files": {"enabled": bool(files), "entries": files},
            }
        )
    return docs


def history_actions(docs, rng: random.Random):
    """Membership history: global and community additions, some removals mid-way."""
    from invenio_search.utils import prefix_index

    for doc in docs:
        rows = [("global", "added", "2023-06-01")]
        for community in doc["parent"]["communities"]["ids"]:
            rows.append((community, "added", f"2024-0{rng.randint(1, 3)}-{rng.randint(1, 28):02d}"))
            if rng.random() < 0.1:
                rows.append((community, "removed", f"2024-04-{rng.randint(1, 28):02d}"))
        for community, kind, day in rows:
            yield {
                "_index": prefix_index(f"stats-community-events-{day[:4]}"),
                "_id": f"{doc['uuid']}-{community}-{kind}-{day}",
                "_source": {
                    "record_id": doc["uuid"],
                    "community_id": community,
                    "event_type": kind,
                    "event_date": f"{day}T00:00:00",
                    "timestamp": datetime.now().isoformat(),
                    "updated_timestamp": datetime.now().isoformat(),
                },
            }


def raw_event_actions(docs, count: int, rng: random.Random, months=MONTHS, span=None):
    """``count`` raw events over the months (views and downloads), invenio-stats' shape.

    ``span``: ``(first day, last day)`` instead of the months.
    """
    from invenio_stats_dashboard.usage_events import indices
    from invenio_stats_dashboard.usage_events.synthetic import (
        COUNTRIES,
        REFERRERS,
        RecordTarget,
        raw_event,
    )

    targets = [
        RecordTarget(
            recid=d["id"],
            parent_recid=d["parent"]["id"],
            bucket_id=str(uuid.uuid5(uuid.NAMESPACE_OID, d["id"])),
            files=tuple((f["file_id"], f["key"], f["size"]) for f in d["files"]["entries"]),
        )
        for d in docs
    ]
    first = date.fromisoformat(f"{months[0]}-01")
    last_month = date.fromisoformat(f"{months[-1]}-01")
    end = (last_month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    if span is not None:
        first, end = span
    days = (end - first).days + 1
    for n in range(count):
        target = rng.choice(targets)
        moment = datetime.combine(first + timedelta(days=rng.randrange(days)), datetime.min.time())
        moment += timedelta(seconds=rng.randrange(86400))
        file = rng.choice(target.files) if target.files and rng.random() < 0.35 else None
        _id, doc = raw_event(
            target,
            moment,
            visitor=rng.randrange(1, 20000),
            file=file,
            country=rng.choice(COUNTRIES),
            referrer=rng.choice(REFERRERS),
            is_robot=n % 50 == 0,
            is_machine=n % 40 == 0,
        )
        event_type = "download" if file else "view"
        yield {
            "_index": indices.raw_index(event_type, doc["timestamp"][:7]),
            "_id": _id,
            "_source": doc,
        }


def bulk(actions, chunk=1000) -> int:
    from invenio_search import current_search_client
    from invenio_search.engine import search as search_engine

    ok, _ = search_engine.helpers.bulk(
        current_search_client, actions, chunk_size=chunk, stats_only=True, refresh=False
    )
    return ok


# --------------------------------------------------------------------------- child
def child(batch_size: int) -> None:
    """Run the migration (in the child process) and print its figures as JSON."""
    from invenio_stats_dashboard.usage_events.migration import MigrationOptions, Migrator

    app = bench_app()
    with app.app_context():
        from invenio_search import current_search_client

        from invenio_stats_dashboard.core.engine import search_client

        counter = count_requests(current_search_client, search_client)
        migrator = Migrator(MigrationOptions(batch_size=batch_size))
        began = time.perf_counter()
        if os.environ.get("BENCH_PROFILE"):
            import cProfile

            profile = cProfile.Profile()
            results = profile.runcall(migrator.run)
            profile.dump_stats(os.environ["BENCH_PROFILE"])
        else:
            results = migrator.run()
        seconds = time.perf_counter() - began
        written = sum(r.written for r in results)
        print(
            json.dumps(
                {
                    "written": written,
                    "seconds": seconds,
                    "states": sorted({r.state for r in results}),
                    "search_requests": counter["searches"],
                    "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                }
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--records", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.batch_size)
        return
    with running_engine() as hosts:
        os.environ["BENCH_SEARCH_HOSTS"] = repr(hosts)
        app = bench_app()
        with app.app_context():
            from invenio_search import current_search_client

            setup_indices()
            rng = random.Random(42)
            communities = [str(uuid.uuid4()) for _ in range(COMMUNITIES)]
            docs = record_docs(rng, args.records, communities)
            from invenio_rdm_records.records.api import RDMRecord

            from invenio_stats_dashboard.core.indices import record_class_alias

            bulk(
                {"_index": record_class_alias(RDMRecord), "_id": d["uuid"], "_source": d}
                for d in docs
            )
            bulk(history_actions(docs, rng))
            current_search_client.indices.refresh()
            began = time.perf_counter()
            raw_count = bulk(raw_event_actions(docs, args.events, rng))
            current_search_client.indices.refresh()
            raw_seconds = time.perf_counter() - began
        raw_rate = raw_count / raw_seconds
        print(f"raw bulk indexing: {raw_count} events in {raw_seconds:.1f} s = {raw_rate:.0f}/s")
        proc = subprocess.run(
            [sys.executable, __file__, "--child", "--batch-size", str(args.batch_size)],
            capture_output=True,
            text=True,
            env=os.environ.copy(),
            check=False,
        )
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            sys.exit(1)
        figures = json.loads(proc.stdout.strip().splitlines()[-1])
        rate = figures["written"] / figures["seconds"]
        print(
            f"migration: {figures['written']} events in {figures['seconds']:.1f} s = "
            f"{rate:.0f} events/s (batch size {args.batch_size}; states {figures['states']})"
        )
        print(f"migration / raw bulk rate: {100 * rate / raw_rate:.0f}% (target >= 70%)")
        print(
            f"peak memory of the migrating process: {figures['maxrss_kb'] / 1024:.0f} MB "
            "(target < 500 MB)"
        )
        print(f"search requests: {figures['search_requests']}")


if __name__ == "__main__":
    main()
