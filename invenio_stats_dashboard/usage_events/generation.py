"""``usage-events generate``: synthetic views and downloads for existing records.

Records are read from the records index (published, not deleted, ``created`` within the
record window, at most ``max_records``); each gets ``events_per_record`` events spread
over the event window (never before the record's creation day), by distinct visitors
from many countries and referrers, downloads of its real files. Events are indexed
directly, in invenio-stats' stored shape (``synthetic.raw_event``), into the index that
readers read for their month:

- a month whose enriched index is read (migrated, or new traffic after the upgrade):
  enriched events there only;
- otherwise the raw monthly index, plus an enriched copy (same ``_id``) in the
  ``-v2.0.0`` index when ``enrich_events`` is set, or when ``use_migrated_indices`` is set
  and the month's enriched index exists (a migration in progress), exactly as the
  enriching indexer does: readers keep seeing the event and the migration's counts match.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date

from flask import current_app

from ..core.bulk import bulk_write
from ..core.days import day_of, day_range_query, utc_today
from ..core.engine import search_client
from ..core.indices import records_alias
from ..core.paging import search_after_pages
from ..search.setup import ensure_search_setup
from . import indices
from .enrichment import strip_enrichment
from .lookup import BatchEnricher
from .synthetic import RecordTarget, spread_events

PAGE = 500


@dataclass
class GenerationOptions:
    """What ``usage-events generate`` was asked to do."""

    start_date: date | None = None
    end_date: date | None = None
    event_start_date: date | None = None
    event_end_date: date | None = None
    events_per_record: int = 5
    max_records: int = 0
    enrich_events: bool = False
    use_migrated_indices: bool = False
    dry_run: bool = False
    seed: int | None = None
    """None: ``STATS_DASHBOARD_SYNTHETIC_EVENTS_SEED`` (None there too: new events each run)."""


@dataclass
class GenerationResult:
    """What was (or, in a dry run, would be) written."""

    records: int = 0
    events: int = 0
    start: date | None = None
    end: date | None = None
    per_index: Counter = field(default_factory=Counter)


def _record_query(opts: GenerationOptions) -> dict:
    filters = [{"term": {"is_published": True}}]
    created = day_range_query("created", opts.start_date, opts.end_date)
    if created:
        filters.append(created)
    return {"bool": {"filter": filters, "must_not": [{"term": {"is_deleted": True}}]}}


def iter_records(opts: GenerationOptions) -> Iterator[list[tuple[RecordTarget, date]]]:
    """Pages of (record, creation day), oldest first, at most ``max_records`` in all."""
    from invenio_db import db
    from invenio_rdm_records.records.api import RDMRecord

    body = {
        "query": _record_query(opts),
        "sort": [{"created": "asc"}, {"uuid": "asc"}],
        "_source": [
            "id",
            "uuid",
            "created",
            "parent.id",
            "parent.uuid",
            "files.entries.key",
            "files.entries.file_id",
            "files.entries.size",
        ],
    }
    left = opts.max_records or None
    model = RDMRecord.model_cls
    for hits in search_after_pages(search_client, records_alias(), body, PAGE):
        if left is not None:
            hits = hits[:left]
            left -= len(hits)
        uuids = [h["_source"]["uuid"] for h in hits]
        buckets = dict(
            db.session.query(model.id, model.bucket_id).filter(model.id.in_(uuids)).all()
        )
        page = []
        for hit in hits:
            source = dict(hit["_source"])
            bucket = buckets.get(_uuid(source["uuid"]))
            source["bucket_id"] = str(bucket) if bucket else None
            page.append((RecordTarget.from_source(source), day_of(source["created"])))
        yield page
        if left is not None and left <= 0:
            return


def _uuid(value: str):
    import uuid

    return uuid.UUID(value)


class Router:
    """Where a generated event of a month goes (see the module docstring)."""

    def __init__(self, opts: GenerationOptions):
        self.opts = opts
        self.plans: dict[tuple[str, str], tuple[bool, bool]] = {}

    def plan(self, event_name: str, month: str, create: bool) -> tuple[bool, bool]:
        """``(write_raw, write_enriched)`` for a month; creates the enriched index if needed."""
        key = (event_name, month)
        if key not in self.plans:
            holders = indices.alias_holders(event_name)
            enriched = indices.enriched_index(event_name, month)
            raw_reads = indices.raw_index(event_name, month) in holders
            if enriched in holders:
                plan = (False, True)
            elif self.opts.enrich_events or (
                self.opts.use_migrated_indices and indices.index_exists(enriched)
            ):
                # while readers still use the raw index (a month not yet switched), the
                # raw copy is written too: readers see it, and validation counts match
                plan = (raw_reads, True)
            else:
                plan = (True, False)
            if create and plan[1]:
                indices.ensure_enriched_index(event_name, month, readable=not raw_reads)
            self.plans[key] = plan
        return self.plans[key]


def generate(
    opts: GenerationOptions,
    progress: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> GenerationResult:
    """Generate (or count, in a dry run) the events; returns what was written.

    ``should_stop`` is asked after each page of records (a background cancel).
    """
    if not opts.dry_run:
        ensure_search_setup()
    end = opts.event_end_date or opts.end_date or utc_today()
    seed = opts.seed
    if seed is None:
        seed = current_app.config.get("STATS_DASHBOARD_SYNTHETIC_EVENTS_SEED")
    rng = random.Random(seed)
    router = Router(opts)
    enricher = BatchEnricher() if not opts.dry_run else None
    result = GenerationResult(end=end)
    for page in iter_records(opts):
        start = opts.event_start_date or opts.start_date or min(c for _, c in page)
        result.start = min(result.start or start, start)
        batch: list[tuple[str, dict, str]] = []
        for record, created in page:
            first = max(start, created)
            if first > end:
                continue
            result.records += 1
            batch.extend(spread_events(rng, [record], first, end, opts.events_per_record))
        result.events += len(batch)
        actions = []
        by_name: dict[str, list[tuple[str, dict]]] = {}
        for _id, doc, name in batch:
            by_name.setdefault(name, []).append((_id, doc))
        for name, events in by_name.items():
            if enricher is not None and (opts.enrich_events or opts.use_migrated_indices):
                enricher.enrich([doc for _, doc in events], name)
            for _id, doc in events:
                month = doc["timestamp"][:7]
                write_raw, write_enriched = router.plan(name, month, create=not opts.dry_run)
                if write_enriched and "community_ids" not in doc and enricher is not None:
                    enricher.enrich([doc], name)
                if write_raw:
                    index = indices.raw_index(name, month)
                    actions.append({"_index": index, "_id": _id, "_source": strip_enrichment(doc)})
                    result.per_index[index] += 1
                if write_enriched:
                    index = indices.enriched_index(name, month)
                    actions.append({"_index": index, "_id": _id, "_source": doc})
                    result.per_index[index] += 1
        if not opts.dry_run and actions:
            bulk_write(actions, chunk_size=1000)
        if progress:
            progress(len(page))
        if should_stop is not None and should_stop():
            break
    if not opts.dry_run and result.per_index:
        search_client.indices.refresh(index=",".join(result.per_index))
    return result


def count_records(opts: GenerationOptions) -> int:
    """How many records ``generate`` would use (``max_records`` applied)."""
    count = search_client.count(index=records_alias(), body={"query": _record_query(opts)})["count"]
    return min(count, opts.max_records) if opts.max_records else count
