"""Migration of raw monthly view/download indices into enriched ``-v2.0.0`` twins.

Per (event type, month), :class:`MonthMigration`:

1. copies the raw index in ``[timestamp, _id]`` order, ``batch_size`` events per read and
   bulk write, enriching each event (record metadata from the records index, communities
   from the membership history on the event's day); the bookmark takes the last sort
   values after each batch, so a stopped or killed run resumes exactly there;
2. catches up: copies again every raw event indexed since the copy began (events that
   arrived during the run, whatever their timestamp);
3. validates: equal counts, a sample of events identical in every original field and
   carrying the enrichment, and every event enriched (lacking ``record_id`` only where the
   record cannot be found, checked afresh for every such recid);
4. switches the read alias to the enriched index (atomic), and copies once more what
   reached the raw index meanwhile; later runs keep catching up migrated months whose raw
   index still receives events (a site that did not install the enriching indexer);
5. deletes the raw index only when asked, after validation, and never for a recent month.

Stops cleanly (bookmark kept) at ``max_batches`` per month, when the machine's memory
passes ``max_memory_percent`` or when the cluster turns red.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import psutil
from flask import current_app

from ..core.bookmarks import MigrationBookmarks
from ..core.bulk import BulkWriteError, bulk_write
from ..core.days import day_of, to_datetime, utc_now, utc_today
from ..core.engine import search_client
from ..core.paging import chunks, composite_buckets, search_after_pages
from ..search.setup import ensure_search_setup
from . import indices
from .enrichment import ENRICHMENT_FIELDS
from .lookup import BatchEnricher, RecordLookup

MAX_BATCH_SIZE = 10_000


def now_iso() -> str:
    """Now (UTC), as the migration bookmarks store moments."""
    return utc_now().isoformat()


CATCH_UP_MARGIN = timedelta(minutes=5)
"""Events indexed up to this long before a pass began are copied again (refresh delays)."""
SORT = [{"timestamp": "asc"}, {"_id": "asc"}]


class MigrationError(Exception):
    """A migration cannot start (bad options, missing prerequisites)."""


@dataclass
class MigrationOptions:
    """What ``usage-events migrate`` was asked to do."""

    event_types: tuple[str, ...] = ("view", "download")
    max_batches: int | None = None
    batch_size: int = 1000
    max_memory_percent: float = 85
    dry_run: bool = False
    delete_old_indices: bool = False
    months: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, **given) -> MigrationOptions:
        """Options with the ``STATS_DASHBOARD_REINDEXING_*`` defaults for what is ``None``."""
        cfg = current_app.config
        defaults = {
            "max_batches": cfg.get("STATS_DASHBOARD_REINDEXING_MAX_BATCHES"),
            "batch_size": cfg.get("STATS_DASHBOARD_REINDEXING_BATCH_SIZE", 1000),
            "max_memory_percent": cfg.get("STATS_DASHBOARD_REINDEXING_MAX_MEMORY_PERCENT", 85),
        }
        values = {k: v for k, v in given.items() if v is not None and v != ()}
        opts = cls(**{**defaults, **values})
        if not 1 <= opts.batch_size <= MAX_BATCH_SIZE:
            raise MigrationError(f"batch size must be between 1 and {MAX_BATCH_SIZE}")
        if opts.max_batches is not None and opts.max_batches < 1:
            raise MigrationError("max batches must be at least 1")
        if not 0 < opts.max_memory_percent <= 100:
            raise MigrationError("max memory percent must be in (0, 100]")
        unknown = set(opts.event_types) - set(indices.EVENT_TYPES)
        if unknown:
            raise MigrationError(f"unknown event type(s): {', '.join(sorted(unknown))}")
        return opts


@dataclass
class MonthResult:
    """Outcome of one month."""

    event_type: str
    month: str
    state: str
    written: int = 0
    source_count: int = 0
    message: str = ""
    stop_all: bool = False


class StopMigration(Exception):
    """Raised inside a month's copy to stop the whole run cleanly."""


@dataclass
class Migrator:
    """Migrates every month of the chosen event types; see the module docstring."""

    options: MigrationOptions
    progress: Callable[[MonthResult], None] | None = None
    on_batch: Callable[[str, str, int], None] | None = None
    bookmarks: MigrationBookmarks = field(default_factory=MigrationBookmarks)
    enricher: BatchEnricher = field(default_factory=BatchEnricher)
    should_stop: Callable[[], bool] | None = None
    """Asked before each batch (a background process's cancel request)."""
    earliest_written: date | None = None
    """Day of the earliest event this run wrote (usage statistics are redone from it)."""

    def plan(self) -> list[tuple[str, str]]:
        """(event type, month) pairs that have a raw index, oldest first."""
        pairs = []
        for event_type in self.options.event_types:
            raw, _ = indices.list_indices(event_type)
            for month in sorted(raw):
                if not self.options.months or month in self.options.months:
                    pairs.append((event_type, month))
        return pairs

    def run(self) -> list[MonthResult]:
        """Migrate month by month; stop everything on a memory or cluster stop."""
        if not self.enricher.membership.available and not self.options.dry_run:
            raise MigrationError(
                "the membership history (stats-community-events) does not exist: "
                "run `invenio community-stats community-events generate` first"
            )
        results = []
        try:
            for event_type, month in self.plan():
                result = MonthMigration(self, event_type, month).run()
                results.append(result)
                if self.progress:
                    self.progress(result)
                if result.stop_all:
                    break
        finally:
            if self.earliest_written is not None:
                # usage already aggregated for these days did not see these events
                from ..aggregations.rewinds import rewind_usage_bookmarks

                rewind_usage_bookmarks(self.earliest_written)
        return results


class MonthMigration:
    """One (event type, month)."""

    def __init__(self, migrator: Migrator, event_type: str, month: str):
        self.m = migrator
        self.opts = migrator.options
        self.event_type = event_type
        self.event_name = indices.event_name(event_type)
        self.month = month
        self.source = indices.raw_index(event_type, month)
        self.target = indices.enriched_index(event_type, month)
        self.client = search_client
        self.written = 0
        """Events written by this run (copy, catch-ups)."""

    # ------------------------------------------------------------------ helpers
    def count(self, index: str, query: dict | None = None) -> int:
        """Documents in an index (0 when it does not exist)."""
        if not indices.index_exists(index):
            return 0
        body = {"query": query} if query else None
        return self.client.count(index=index, body=body)["count"]

    def _new_bookmark(self) -> dict:
        return {
            "event_type": self.event_type,
            "month": self.month,
            "source_index": self.source,
            "target_index": self.target,
            "state": "copying",
            "last_sort": None,
            "written": 0,
            "batches": 0,
            "unresolved_recids": [],
            "copy_started": now_iso(),
            "caught_up_to": None,
            "message": "",
            "started_timestamp": now_iso(),
        }

    def _check_resources(self) -> None:
        """Raise ``StopMigration`` when memory or the cluster's health says stop."""
        if self.m.should_stop is not None and self.m.should_stop():
            raise StopMigration("stop requested")
        used = psutil.virtual_memory().percent
        if used > self.opts.max_memory_percent:
            raise StopMigration(
                f"memory use {used:.0f}% is above {self.opts.max_memory_percent:g}%"
            )
        health = self.client.cluster.health()
        if health.get("status") == "red":
            raise StopMigration("the search cluster is red")

    # ------------------------------------------------------------------ run
    def run(self) -> MonthResult:
        """Copy, catch up, validate, switch (and maybe delete); see the module docstring."""
        source_count = self.count(self.source)
        bm = self.m.bookmarks.get(self.event_type, self.month)
        result = MonthResult(self.event_type, self.month, "", source_count=source_count)
        if self.opts.dry_run:
            done = (bm or {}).get("written", 0)
            result.state = (bm or {}).get("state", "pending")
            result.message = (
                f"would copy {max(source_count - done, 0)} of {source_count} events "
                f"to {self.target}"
            )
            return result
        if bm and bm.get("state") == "migrated":
            late = self._late_catch_up(bm)
            result.written, result.state = self.written, "migrated"
            result.message = f"already migrated; {result.written} late events copied{late}"
            if not late:
                self.maybe_delete(bm, result)
            return result
        bm = bm or self._new_bookmark()
        if bm.get("state") in ("failed", "stopped"):
            bm["state"] = "copying"
        indices.ensure_enriched_index(
            self.event_type, self.month, readable=self.source not in self._holders()
        )
        try:
            self.copy(bm)
            self.catch_up(bm)
        except StopMigration as stop:
            bm["state"] = "stopped"
            bm["message"] = str(stop)
            self.m.bookmarks.save(bm)
            result.written, result.state, result.message = self.written, "stopped", str(stop)
            result.stop_all = "max batches" not in str(stop)
            return result
        errors = self.validate(bm)
        result.written = self.written
        if errors:
            bm["state"] = "failed"
            bm["message"] = "; ".join(errors) + " (clear the month's bookmark to copy it again)"
            self.m.bookmarks.save(bm)
            result.state, result.message = "failed", bm["message"]
            return result
        indices.switch_month(self.event_type, self.month)
        bm["state"], bm["message"] = "migrated", "validated and switched"
        self.m.bookmarks.save(bm)
        late = self._late_catch_up(bm)
        result.written = self.written
        result.state, result.message = "migrated", f"validated and switched{late}"
        if not late:
            self.maybe_delete(bm, result)
        return result

    def _late_catch_up(self, bm: dict) -> str:
        """Copy late events of a switched month; ``""``, or why they wait for a re-run."""
        try:
            self._check_resources()
            self.catch_up(bm)
        except StopMigration as stop:
            return f"; late events not copied yet ({stop}): run migrate again"
        return ""

    def _holders(self) -> set[str]:
        return indices.alias_holders(self.event_type)

    def _pages(self, body: dict):
        """Pages of raw events of ``body`` in ``[timestamp, _id]`` order, a batch each."""
        return search_after_pages(
            self.client, self.source, {**body, "sort": SORT}, self.opts.batch_size
        )

    def copy(self, bm: dict) -> None:
        """Main pass from the bookmark on."""
        body: dict = {"query": {"match_all": {}}}
        if bm.get("last_sort"):
            body["search_after"] = bm["last_sort"]
        batches_now = 0
        self._check_resources()
        for hits in self._pages(body):
            self.write(hits, bm)
            bm["last_sort"] = hits[-1]["sort"]
            bm["written"] = bm.get("written", 0) + len(hits)
            bm["batches"] = bm.get("batches", 0) + 1
            self.m.bookmarks.save(bm)
            batches_now += 1
            if self.m.on_batch:
                self.m.on_batch(self.event_type, self.month, len(hits))
            if len(hits) < self.opts.batch_size:
                return  # the last page
            if self.opts.max_batches is not None and batches_now >= self.opts.max_batches:
                raise StopMigration(f"max batches ({self.opts.max_batches}) reached")
            self._check_resources()

    def catch_up(self, bm: dict) -> int:
        """Copy raw events indexed since the last pass began (late or concurrent ones)."""
        if not indices.index_exists(self.source):
            return 0
        since = bm.get("caught_up_to") or bm.get("copy_started")
        started = now_iso()
        self.client.indices.refresh(index=self.source)
        query: dict = {"match_all": {}}
        if since:
            floor = to_datetime(since) - CATCH_UP_MARGIN
            query = {"range": {"updated_timestamp": {"gte": floor.isoformat()}}}
        written = 0
        for hits in self._pages({"query": query, "_source": False}):
            missing = self._missing_in_target([h["_id"] for h in hits])
            if missing:
                written += self.write(self._fetch(missing), bm)
        bm["caught_up_to"] = started
        self.m.bookmarks.save(bm)
        return written

    def _missing_in_target(self, ids: list[str]) -> list[str]:
        """The ids (of raw events) that the target does not have yet."""
        found = self.client.search(
            index=self.target,
            body={"query": {"ids": {"values": ids}}, "size": len(ids), "_source": False},
        )["hits"]["hits"]
        present = {h["_id"] for h in found}
        return [i for i in ids if i not in present]

    def _fetch(self, ids: list[str]) -> list[dict]:
        """Raw events by id, in ``[timestamp, _id]`` order."""
        body = {"query": {"ids": {"values": ids}}, "size": len(ids), "sort": SORT}
        return self.client.search(index=self.source, body=body)["hits"]["hits"]

    def write(self, hits: list[dict], bm: dict) -> int:
        """Enrich and bulk-write a batch (same ``_id``s); stop the run on any failed write."""
        events = self.m.enricher.enrich([dict(h["_source"]) for h in hits], self.event_name)
        actions = [
            {"_index": self.target, "_id": hit["_id"], "_source": event}
            for hit, event in zip(hits, events, strict=True)
        ]
        try:
            ok = bulk_write(actions, chunk_size=len(actions), client=self.client)
        except BulkWriteError as error:
            raise StopMigration(f"bulk write failed: {error}") from None
        first = min(day_of(e["timestamp"]) for e in events)
        if self.m.earliest_written is None or first < self.m.earliest_written:
            self.m.earliest_written = first
        unresolved = set(bm.get("unresolved_recids") or []) | self.m.enricher.unresolved
        bm["unresolved_recids"] = sorted(unresolved)[:1000]
        self.written += ok
        return ok

    # ------------------------------------------------------------------ validation
    def validate(self, bm: dict) -> list[str]:
        """Problems that forbid switching readers (empty when the month is good)."""
        self.client.indices.refresh(index=f"{self.source},{self.target}")
        errors = []
        source_count, target_count = self.count(self.source), self.count(self.target)
        if source_count != target_count:
            errors.append(f"count mismatch: source {source_count}, target {target_count}")
        errors.extend(self._compare_sample())
        resolvable = self._unenriched_but_resolvable()
        if resolvable:
            errors.append(f"{resolvable} events are not enriched")
        return errors

    def _unenriched_but_resolvable(self) -> int:
        """Target events lacking enrichment although their record can be found.

        Events of records the instance no longer has (purged) stay unenriched; every
        other one must be enriched. Pages the unenriched events' recids with a composite
        aggregation and looks them up afresh, so any number of purged records is fine.
        """
        lookup = RecordLookup()
        buckets = composite_buckets(
            self.client,
            self.target,
            "recid",
            query={"bool": {"must_not": [{"exists": {"field": "record_id"}}]}},
            missing_bucket=True,
        )
        count = 0
        for page in chunks(buckets, 1000):
            per_recid = {b["key"]: b["doc_count"] for b in page}
            found = lookup.facts(r for r in per_recid if r)
            count += sum(n for recid, n in per_recid.items() if recid and found.get(recid))
        return count

    def _compare_sample(self) -> list[str]:
        size = current_app.config.get("STATS_DASHBOARD_REINDEXING_VALIDATION_SAMPLE", 200)
        body = {
            "size": size,
            "query": {
                "function_score": {
                    "random_score": {"seed": random.randint(1, 2**31), "field": "_seq_no"}
                }
            },
        }
        sample = self.client.search(index=self.source, body=body)["hits"]["hits"]
        if not sample:
            return []
        docs = self.client.mget(index=self.target, body={"ids": [h["_id"] for h in sample]})
        by_id = {d["_id"]: d for d in docs["docs"]}
        errors = []
        for hit in sample:
            found = by_id.get(hit["_id"], {})
            if not found.get("found"):
                errors.append(f"event {hit['_id']} is missing from the target")
                continue
            target = found["_source"]
            changed = [k for k, v in hit["_source"].items() if target.get(k) != v]
            if changed:
                errors.append(f"event {hit['_id']} differs in {', '.join(sorted(changed))}")
            elif any(k not in target for k in ENRICHMENT_FIELDS):
                errors.append(f"event {hit['_id']} is not enriched")
            if len(errors) >= 5:
                break
        return errors

    # ------------------------------------------------------------------ deletion
    def maybe_delete(self, bm: dict, result: MonthResult) -> None:
        """Delete the raw index when asked, if migrated and not recent."""
        if not self.opts.delete_old_indices or bm.get("state") != "migrated":
            return
        if not indices.index_exists(self.source):
            return
        keep = current_app.config.get("STATS_DASHBOARD_REINDEXING_KEEP_RECENT_DAYS", 2)
        year, month = map(int, self.month.split("-"))
        month_end = date(year + month // 12, month % 12 + 1, 1)
        if utc_today() < month_end + timedelta(days=keep):
            result.message += "; raw index kept (month still receiving events)"
            return
        if self.count(self.source) > self.count(self.target):
            result.message += "; raw index kept (it has events the target lacks)"
            return
        self.client.indices.delete(index=self.source)
        result.message += "; raw index deleted"


def migrate(options: MigrationOptions, **kwargs) -> list[MonthResult]:
    """Run a migration with these options (used by the CLI and the Celery task)."""
    ensure_search_setup()
    return Migrator(options, **kwargs).run()
