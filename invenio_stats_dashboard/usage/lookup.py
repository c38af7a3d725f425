"""Batch look-ups for the migration: records by ``recid``, membership history by record.

Both keep a bounded LRU cache, so a month's traffic (which hits the same popular records
over and over) costs one look-up per distinct record, and memory stays bounded whatever
the number of events.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from datetime import date

from flask import current_app
from invenio_search import current_search_client
from invenio_search.utils import prefix_index

from .enrichment import record_facts

RECORD_SOURCE = [
    "id",
    "uuid",
    "parent.id",
    "parent.uuid",
    "parent.communities.ids",
    "files.entries.key",
    "access.status",
    "metadata.resource_type",
    "metadata.publisher",
    "metadata.languages",
    "metadata.subjects",
    "metadata.rights",
    "metadata.creators.affiliations",
    "metadata.contributors.affiliations",
    "metadata.funding.funder",
    "custom_fields.journal:journal.title",
]
CHUNK = 1000


class LRU(OrderedDict):
    """A small least-recently-used cache."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def get_or_none(self, key):
        """The cached value (and mark it used), or ``None``."""
        if key in self:
            self.move_to_end(key)
            return self[key]
        return None

    def put(self, key, value) -> None:
        """Cache a value, evicting the least recently used beyond ``size``."""
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


def records_index() -> str:
    """Alias of the published records index."""
    from invenio_rdm_records.records.api import RDMRecord

    return RDMRecord.index.search_alias


class RecordLookup:
    """``recid`` -> ``record_facts`` of the record's index document (deleted ones too)."""

    MISSING = {}

    def __init__(self, cache_size: int = 20000):
        self.cache = LRU(cache_size)
        self.requests = 0

    def facts(self, recids: Iterable[str]) -> dict[str, dict | None]:
        """Facts of each recid (``None`` for a record the index does not have)."""
        wanted = {r for r in recids if r}
        found = {}
        missing = []
        for recid in wanted:
            hit = self.cache.get_or_none(recid)
            if hit is None:
                missing.append(recid)
            else:
                found[recid] = hit or None
        for start in range(0, len(missing), CHUNK):
            chunk = missing[start : start + CHUNK]
            self.requests += 1
            res = current_search_client.search(
                index=records_index(),
                body={
                    "query": {"terms": {"id": chunk}},
                    "size": len(chunk),
                    "_source": RECORD_SOURCE,
                },
            )
            for hit in res["hits"]["hits"]:
                facts = record_facts(hit["_source"])
                found[facts["recid"]] = facts
                self.cache.put(facts["recid"], facts)
            for recid in chunk:
                if recid not in found:
                    self.cache.put(recid, self.MISSING)
                    found[recid] = None
        return found


def membership_index() -> str:
    """Alias of the membership history (``stats-community-events``)."""
    return prefix_index("stats-community-events")


class MembershipLookup:
    """Record UUID -> membership intervals ``{community_id: [(added_day, removed_day), ...]}``.

    Built from the history's "added"/"removed" events by the data model's edge rule: a
    record is a member on ``[added day, removed day)``. "global" is left out (global
    statistics count every event). ``has_history`` tells whether the record has any
    history document at all (its global "added" at least).
    """

    def __init__(self, cache_size: int = 20000):
        self.cache = LRU(cache_size)
        self.requests = 0
        self.available = current_search_client.indices.exists(index=membership_index())

    def intervals(self, record_ids: Iterable[str]) -> dict[str, dict | None]:
        """Intervals per record (``None`` when the record has no history at all)."""
        wanted = {r for r in record_ids if r}
        result, missing = {}, []
        for rid in wanted:
            hit = self.cache.get_or_none(rid)
            if hit is None:
                missing.append(rid)
            else:
                result[rid] = hit or None
        if not self.available:
            return {rid: None for rid in wanted}
        for start in range(0, len(missing), CHUNK):
            chunk = missing[start : start + CHUNK]
            events: dict[str, list] = {rid: [] for rid in chunk}
            for doc in self._scan(chunk):
                events[doc["record_id"]].append(doc)
            for rid, docs in events.items():
                value = build_intervals(docs) if docs else {}
                self.cache.put(rid, value)
                result[rid] = value or None
        return result

    def _scan(self, record_ids: list[str]):
        """Every history document of these records (paged with search_after)."""
        body = {
            "query": {"terms": {"record_id": record_ids}},
            "size": current_app.config.get("STATS_DASHBOARD_REINDEXING_BATCH_SIZE", 1000),
            "sort": [{"event_date": "asc"}, {"_id": "asc"}],
            "_source": ["record_id", "community_id", "event_type", "event_date"],
        }
        while True:
            self.requests += 1
            hits = current_search_client.search(index=membership_index(), body=body)["hits"]["hits"]
            yield from (h["_source"] for h in hits)
            if len(hits) < body["size"]:
                return
            body["search_after"] = hits[-1]["sort"]


def build_intervals(docs: list[dict]) -> dict[str, list[tuple[date, date | None]]]:
    """Membership intervals from one record's history documents (any order)."""
    by_community: dict[str, list[tuple[str, str]]] = {}
    for doc in docs:
        by_community.setdefault(doc["community_id"], []).append(
            (doc["event_date"], doc["event_type"])
        )
    intervals: dict[str, list[tuple[date, date | None]]] = {}
    for community, changes in by_community.items():
        # at one instant, a removal closes the previous interval before an addition opens one
        changes.sort(key=lambda c: (c[0], c[1] != "removed"))
        spans, opened = [], None
        for moment, kind in changes:
            day = date.fromisoformat(moment[:10])
            if kind == "added" and opened is None:
                opened = day
            elif kind == "removed" and opened is not None:
                if day > opened:
                    spans.append((opened, day))
                opened = None
        if opened is not None:
            spans.append((opened, None))
        intervals[community] = spans
    return intervals


def communities_on(intervals: dict | None, day: date) -> list[str]:
    """Communities (not "global") the record was a member of on ``day``."""
    if not intervals:
        return []
    return sorted(
        community
        for community, spans in intervals.items()
        if community != "global"
        and any(start <= day and (end is None or day < end) for start, end in spans)
    )


class BatchEnricher:
    """Enrich batches of stored events: record facts by ``recid``, communities by day.

    ``community_ids`` comes from the membership history on the event's day; a record
    without any history document falls back to its current communities (counted in
    ``fallbacks``); an event whose record cannot be found gets empty enrichment and its
    recid is remembered in ``unresolved``.
    """

    def __init__(self):
        self.records = RecordLookup()
        self.membership = MembershipLookup()
        self.unresolved: set[str] = set()
        self.fallbacks = 0

    @property
    def requests(self) -> int:
        """Search requests spent on look-ups so far."""
        return self.records.requests + self.membership.requests

    def enrich(self, events: list[dict], event_name: str) -> list[dict]:
        """Enrich the events in place (``event_name``: record-view / file-download)."""
        from .enrichment import enrich_event

        facts = self.records.facts(e.get("recid") for e in events)
        history = self.membership.intervals(f["record_id"] for f in facts.values() if f)
        for event in events:
            recid = event.get("recid")
            record = facts.get(recid)
            if record is None:
                self.unresolved.add(recid or "")
                communities: list[str] = []
            else:
                intervals = history.get(record["record_id"])
                if intervals is None:
                    self.fallbacks += 1
                    communities = record["current_community_ids"]
                else:
                    day = date.fromisoformat(str(event["timestamp"])[:10])
                    communities = communities_on(intervals, day)
            enrich_event(event, record, communities, event_name)
        return events
