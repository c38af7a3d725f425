"""Benchmark: backfill the membership history of a synthetic site.

    .venv/bin/python benchmarks/community_events.py [--records 10000] [--communities 100]

Starts its own osmem-server (or uses INVENIO_SEARCH_HOSTS) and uses its own PostgreSQL
database (``invenio_bench_events``, tables created if missing; evidence queries run
against it). Creating 10,000 records through the services would take far longer than the
backfill itself, so the records' index documents are written in bulk in the shape the
``rdmrecords-records`` index holds (the fields the backfill reads): each record belongs
to 1-4 of the communities, 3% are tombstoned.

Then it times ``community-events generate`` (the same service function) with every
request to the engine counted by wrapping the client's transport, times a second,
idempotent run, and bulk-indexes the same number of event documents straight into an
index with the same mapping (the engine's raw bulk rate) and prints the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta

from common import ensure_database, make_app, peak_rss_mb, running_engine


def setup(app) -> None:
    """Database tables, templates, the records index; no membership history."""
    from invenio_rdm_records.records.api import RDMRecord
    from invenio_search import current_search, current_search_client

    from invenio_stats_dashboard.core.indices import events_alias

    ensure_database(app)
    for put in (
        current_search.put_templates,
        current_search.put_component_templates,
        current_search.put_index_templates,
    ):
        list(put())
    list(current_search.create(ignore_existing=True, index_list=[RDMRecord.index._name]))
    current_search_client.indices.delete(
        index=f"{events_alias()}-*", ignore=[404], expand_wildcards="all"
    )


def record_actions(rng: random.Random, count: int, communities: list[str]):
    """Bulk actions of ``count`` record documents (rdmrecords index shape)."""
    from invenio_rdm_records.records.api import RDMRecord

    from invenio_stats_dashboard.core.indices import record_class_alias

    index = record_class_alias(RDMRecord)
    start = datetime(2015, 1, 1)
    for n in range(count):
        created = start + timedelta(seconds=rng.randrange(0, 10 * 365 * 86400))
        members = rng.sample(communities, rng.choice((1, 1, 2, 3, 4)))
        deleted = rng.random() < 0.03
        doc = {
            "id": f"{n:05d}-bench",
            "uuid": str(uuid.UUID(int=rng.getrandbits(128))),
            "parent": {
                "id": f"p{n:05d}-bench",
                "uuid": str(uuid.UUID(int=rng.getrandbits(128))),
                "communities": {"ids": members, "default": members[0]},
            },
            "created": created.isoformat() + "+00:00",
            "updated": created.isoformat() + "+00:00",
            "is_published": True,
            "is_deleted": deleted,
            "deletion_status": "D" if deleted else "P",
            "metadata": {"title": f"Record {n}", "publication_date": f"{created.year - 1}"},
        }
        if deleted:
            removal = created + timedelta(days=rng.randrange(1, 400))
            doc["tombstone"] = {"removal_date": removal.isoformat() + "+00:00"}
        yield {"_index": index, "_id": doc["uuid"], "_source": doc}


class RequestCounter:
    """Counts requests sent through the client's transport, by kind."""

    def __init__(self, client):
        """Wrap ``client.transport.perform_request``."""
        self.counts: Counter = Counter()
        transport = client.transport
        original = transport.perform_request

        def counted(method, url, *args, **kwargs):
            path = url.split("?")[0]
            kind = path.rsplit("/", 1)[-1] if "/_" in path else method
            self.counts[kind] += 1
            return original(method, url, *args, **kwargs)

        transport.perform_request = counted

    def reset(self) -> None:
        """Start counting from zero."""
        self.counts.clear()

    @property
    def searches(self) -> int:
        """Search, count and scroll requests."""
        return sum(v for k, v in self.counts.items() if k in ("_search", "_count", "scroll"))


def raw_bulk_rate(client, docs: list[dict], chunk: int, yearly: bool) -> float:
    """Docs/s of ``streaming_bulk`` of the documents into fresh indices, events mapping.

    ``yearly``: into one index per event year (the layout the history uses), else into a
    single index.
    """
    from opensearchpy import helpers

    template = os.path.join(
        os.path.dirname(__import__("invenio_stats_dashboard").__file__),
        "search/index_templates/os-v2/stats-community-events-v1.0.0.json",
    )
    with open(template) as handle:
        body = json.load(handle)["template"]
    body.pop("aliases", None)
    prefix = "bench-raw-community-events"

    def index_of(doc):
        return f"{prefix}-{doc['event_date'][:4]}" if yearly else prefix

    names = sorted({index_of(doc) for doc in docs})
    client.indices.delete(index=f"{prefix}*", ignore=[404])
    for name in names:
        client.indices.create(index=name, body=body)
    started = time.perf_counter()
    actions = (
        {
            "_index": index_of(doc),
            "_id": doc["_id"],
            "_source": {k: v for k, v in doc.items() if k != "_id"},
        }
        for doc in docs
    )
    for _ in helpers.streaming_bulk(client, actions, chunk_size=chunk, request_timeout=120):
        pass
    client.indices.refresh(index=f"{prefix}*")
    elapsed = time.perf_counter() - started
    client.indices.delete(index=f"{prefix}*")
    return len(docs) / elapsed


def stored_events(client) -> list[dict]:
    """Every stored event (with ``_id``), read back by ``search_after``."""
    from invenio_stats_dashboard.core.indices import events_alias

    body = {
        "size": 5000,
        "sort": [
            {"record_id": "asc"},
            {"community_id": "asc"},
            {"event_date": "asc"},
            {"event_type": "asc"},
        ],
    }
    out = []
    while True:
        hits = client.search(index=events_alias(), body=body)["hits"]["hits"]
        out.extend({"_id": h["_id"], **h["_source"]} for h in hits)
        if len(hits) < 5000:
            return out
        body["search_after"] = hits[-1]["sort"]


def main() -> None:
    """Build the site, run the backfill twice, measure the raw rate, print figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--communities", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=None)
    args = parser.parse_args()

    with running_engine() as hosts:
        app = make_app(hosts, "invenio_bench_events", 7)
        with app.app_context():
            run(app, args)


def run(app, args) -> None:
    """The measured part (inside an application context)."""
    from invenio_search import current_search_client as client
    from opensearchpy import helpers

    from invenio_stats_dashboard.membership.service import generate_community_events

    if args.batch_size:
        app.config["COMMUNITY_STATS_EVENTS_BATCH_SIZE"] = args.batch_size
    setup(app)
    rng = random.Random(42)
    communities = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(args.communities)]
    started = time.perf_counter()
    helpers.bulk(client, record_actions(rng, args.records, communities), chunk_size=1000)
    client.indices.refresh(index="*")
    print(
        f"site: {args.records} records in {args.communities} communities, "
        f"written in {time.perf_counter() - started:.1f}s"
    )

    from invenio_stats_dashboard.search.setup import ensure_search_setup

    ensure_search_setup()  # once per process, before the measured runs
    counter = RequestCounter(client)
    started = time.perf_counter()
    summary = generate_community_events()
    elapsed = time.perf_counter() - started
    counts = dict(counter.counts)
    events = summary["events_created"]
    batch = app.config["COMMUNITY_STATS_EVENTS_BATCH_SIZE"]
    print(
        f"backfill: {summary['records_checked']} records, {events} events "
        f"in {elapsed:.2f}s (batch size {batch})"
    )
    print(f"  records/s              {summary['records_checked'] / elapsed:,.0f}")
    print(f"  events/s               {events / elapsed:,.0f}")
    print(f"  requests               {counts}")
    print(f"  search requests/record {counter.searches / summary['records_checked']:.4f}")
    print(
        f"  search requests/batch  {counter.searches / -(-summary['records_checked'] // batch):.2f}"
    )

    counter.reset()
    started = time.perf_counter()
    again = generate_community_events()
    elapsed_again = time.perf_counter() - started
    print(
        f"re-run (idempotent): {again['events_created']} events created, "
        f"{elapsed_again:.2f}s, {counter.searches} search requests, "
        f"{counter.counts.get('_bulk', 0)} bulk requests"
    )

    docs = stored_events(client)
    assert len(docs) == events, (len(docs), events)
    chunk = app.config["COMMUNITY_STATS_EVENTS_BULK_CHUNK_SIZE"]
    rate = events / elapsed
    for yearly, label in ((False, "one index"), (True, "yearly indices, as the history")):
        raw = raw_bulk_rate(client, docs, chunk, yearly)
        print(
            f"raw bulk indexing of the same {len(docs)} event documents ({label}): "
            f"{raw:,.0f} docs/s; ratio backfill / raw: {rate / raw:.2f} (target >= 0.50)"
        )
    peak = peak_rss_mb()
    print(f"peak memory (max RSS) of this process: {peak:.0f} MB")


if __name__ == "__main__":
    main()
