"""Benchmark: the statistics API over real HTTP, uncached, cached and 304.

    .venv/bin/python benchmarks/read_api.py [--records 10000] [--communities 50] [--rounds 20]

The site is the records benchmark's (``record_aggregations.write_site``: ``--records``
records in ``--communities`` communities over 2022-2024), one of whose communities is a
real community in the database (the API resolves and authorizes it), plus three years
of enriched views and downloads of that community's records. That community's records
and usage are aggregated; the API app is then served by a WSGI server (werkzeug) on
loopback and asked, by a plain HTTP client, for the four category queries of 2024 in one
POST (the dashboard's year block):

- uncached: the response cache emptied before every request;
- cached: the same request again (no compression asked);
- cached br: as a browser asks (``Accept-Encoding: gzip, deflate, br``);
- 304: with ``If-None-Match``;

and prints p50/p95 of each, the payload bytes (raw, gzip, br), and the targets
(uncached < 300 ms, cached < 20 ms). Uses the database ``invenio_bench_api`` and Redis
dbs 13 (locks) and 14 (response cache).
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import random
import statistics
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import brotli
from common import ensure_database, make_app, running_engine
from record_aggregations import END, START, write_site

from invenio_stats_dashboard.demo.serve import LOOPBACK_HTTP

YEAR = 2024


def bench_app(hosts):
    redis = os.environ.get("BENCH_REDIS_BASE", "redis://127.0.0.1:6379")
    return make_app(
        hosts,
        "invenio_bench_api",
        13,
        COMMUNITY_STATS_EARLIEST_DATE=START.isoformat(),
        COMMUNITY_STATS_RECONCILE_BEFORE_AGGREGATION=False,
        COMMUNITY_STATS_TRACK_MEMBERSHIP=False,
        COMMUNITY_STATS_CACHE_WARM_AFTER_AGGREGATION=False,
        COMMUNITY_STATS_CACHE_REDIS_URL=f"{redis}/14",
        RATELIMIT_ENABLED=False,
        THEME_FRONTPAGE=False,
        **LOOPBACK_HTTP,
    )


def setup(app, records: int, communities: int) -> str:
    """Tables, vocabularies, one real community, the synthetic site and its usage."""
    import redis
    from invenio_access.permissions import system_identity
    from invenio_db import db
    from invenio_files_rest.models import Location
    from invenio_search import current_search

    from invenio_stats_dashboard.demo import factories
    from invenio_stats_dashboard.demo.vocabularies import load_minimal_vocabularies

    redis.Redis.from_url(app.config["CACHE_REDIS_URL"]).flushdb()
    redis.Redis.from_url(app.config["COMMUNITY_STATS_CACHE_REDIS_URL"]).flushdb()
    ensure_database(app)
    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(table.delete())
    db.session.commit()
    list(current_search.create(ignore_existing=True))
    for put in (
        current_search.put_templates,
        current_search.put_component_templates,
        current_search.put_index_templates,
    ):
        list(put())
    load_minimal_vocabularies()
    files_dir = Path(tempfile.gettempdir()) / "invenio_bench_api_files"
    db.session.add(Location(name="bench", uri=files_dir.as_uri(), default=True))
    db.session.commit()
    community = factories.create_community(system_identity, "bench-api")
    ids = [str(community.id), *(str(uuid.uuid4()) for _ in range(communities - 1))]
    write_site(records, ids, START, END, seed=7)
    write_usage(str(community.id))
    return str(community.id)


def write_usage(community_id: str) -> int:
    """Enriched views and downloads of the community's records over the three years."""
    from invenio_search import current_search_client
    from opensearchpy.helpers import bulk

    from invenio_stats_dashboard.core.indices import enriched_index, records_alias
    from invenio_stats_dashboard.core.paging import scroll_hits
    from invenio_stats_dashboard.record_facts import SOURCE_FIELDS, record_facts
    from invenio_stats_dashboard.usage_events.enrichment import enrich_event
    from invenio_stats_dashboard.usage_events.synthetic import RecordTarget, raw_event

    members = [
        record_facts(hit["_source"])
        for hit in scroll_hits(current_search_client, records_alias(), source=SOURCE_FIELDS)
    ]
    members = [f for f in members if f["record_id"]][:400]
    rng = random.Random(3)
    days = (END - START).days + 1

    def actions():
        for _ in range(days * 40):
            facts = rng.choice(members)
            target = RecordTarget(facts["recid"], facts["parent_recid"], facts["record_id"])
            day = START + timedelta(days=rng.randrange(days))
            moment = datetime.combine(day, datetime.min.time()) + timedelta(
                seconds=rng.randrange(86400)
            )
            files = facts["files"]
            download = bool(files) and rng.random() < 0.3
            file = None
            if download:
                key, size = rng.choice(files)
                file = (str(uuid.uuid4()), key, int(size or 1000))
            _id, doc = raw_event(
                target,
                moment,
                visitor=rng.randrange(5000),
                file=file,
                country=rng.choice(["US", "DE", "FR", "BR"]),
            )
            name = "file-download" if download else "record-view"
            enrich_event(doc, facts, [community_id], name)
            kind = "download" if download else "view"
            yield {
                "_index": enriched_index(kind, moment.strftime("%Y-%m")),
                "_id": _id,
                "_source": doc,
            }

    written, _ = bulk(current_search_client, actions(), chunk_size=2000, request_timeout=300)
    current_search_client.indices.refresh()
    return written


def serve(app) -> tuple[str, int, object]:
    """The app on a threaded WSGI server on loopback (a daemon thread)."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return "127.0.0.1", server.server_port, server


def request(host, port, body: bytes, headers: dict) -> tuple[float, int, bytes, dict]:
    """One POST: (seconds, status, body, headers)."""
    connection = http.client.HTTPConnection(host, port, timeout=120)
    began = time.perf_counter()
    connection.request("POST", "/stats-dashboard", body=body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    elapsed = time.perf_counter() - began
    connection.close()
    return elapsed, response.status, data, dict(response.getheaders())


def percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--communities", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with running_engine() as hosts:
        app = bench_app(hosts)
        with app.app_context():
            began = time.monotonic()
            community_id = setup(app, args.records, args.communities)
            print(f"site written in {time.monotonic() - began:.0f} s")
            from invenio_stats_dashboard.aggregations.service import run_aggregations
            from invenio_stats_dashboard.cache.store import ResponseCache

            began = time.monotonic()
            report = run_aggregations(community_ids=[community_id], end=END)
            print(
                f"aggregated one community, 2022-2024: {report.documents} documents in "
                f"{time.monotonic() - began:.0f} s"
            )
            cache = ResponseCache()
        host, port, server = serve(app)
        queries = (
            "record-delta-category",
            "record-snapshot-category",
            "usage-delta-category",
            "usage-snapshot-category",
        )
        params = {
            "community_id": community_id,
            "start_date": f"{YEAR}-01-01",
            "end_date": f"{YEAR}-12-31",
            "date_basis": "added",
        }
        body = json.dumps({q: {"stat": q, "params": params} for q in queries}).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        browser = {"Accept-Encoding": "gzip, deflate, br"}
        uncached, cached, cached_br, not_modified = [], [], [], []
        etag, payload = None, b""
        for _ in range(args.rounds):
            with app.app_context():
                cache.drop()
            seconds, status, payload, response_headers = request(host, port, body, headers)
            assert status == 200, payload[:300]
            uncached.append(seconds)
            etag = response_headers["ETag"]
        for _ in range(args.rounds):
            seconds, status, _, _ = request(host, port, body, headers)
            assert status == 200
            cached.append(seconds)
        for _ in range(args.rounds):
            seconds, status, _, _ = request(host, port, body, {**headers, **browser})
            assert status == 200
            cached_br.append(seconds)
        for _ in range(args.rounds):
            seconds, status, _, _ = request(host, port, body, {**headers, "If-None-Match": etag})
            assert status == 304
            not_modified.append(seconds)
        server.shutdown()
        with app.app_context():
            from invenio_stats_dashboard.queries.service import compute, parse_query

            print("\nin-process compute (no HTTP, no cache):")
            for name in queries:
                began = time.perf_counter()
                result, _ = compute(parse_query(name, params))
                elapsed = (time.perf_counter() - began) * 1000
                count = sum(
                    len(s["data"]) for m in result.values() for lst in m.values() for s in lst
                )
                print(f"  {name:<26} {elapsed:8.1f} ms  {count:>9,} points")
                if os.environ.get("BENCH_PROFILE"):
                    import cProfile
                    import pstats

                    profile = cProfile.Profile()
                    profile.runcall(compute, parse_query(name, params))
                    pstats.Stats(profile).sort_stats("cumulative").print_stats(18)
        points = sum(
            len(series["data"])
            for result in json.loads(payload).values()
            for metrics in result.values()
            for series_list in metrics.values()
            for series in series_list
        )
        print(f"\none community-year, four categories in one POST ({points} data points)")
        for label, values, target in (
            ("uncached", uncached, 300),
            ("cached", cached, 20),
            ("cached br", cached_br, 20),
            ("304", not_modified, 20),
        ):
            p50, p95 = percentiles(values)
            print(f"  {label:<9} p50 {p50:8.1f} ms   p95 {p95:8.1f} ms   (target < {target} ms)")
        print(
            f"payload: raw {len(payload):,} B, gzip {len(gzip.compress(payload, 6)):,} B, "
            f"br {len(brotli.compress(payload, quality=5)):,} B"
        )


if __name__ == "__main__":
    main()
