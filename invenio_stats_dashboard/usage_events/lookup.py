"""Batch look-ups for enriching stored events: records by ``recid``, membership by record.

Both keep a bounded LRU cache, so a month's traffic (which hits the same popular records
over and over) costs one look-up per distinct record, and memory stays bounded whatever
the number of events.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from datetime import date

from ..core.days import day_of
from ..core.engine import search_client
from ..core.ids import GLOBAL
from ..core.indices import records_alias
from ..core.paging import chunks
from ..membership.model import Interval, day_intervals, member_on
from ..membership.plan import HistoryEvent
from ..membership.store import changes_by_community, history_exists, read_history
from ..record_facts import SOURCE_FIELDS, attach_database_files, record_facts
from .enrichment import enrich_event

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

    def split(self, keys: Iterable) -> tuple[dict, list]:
        """``(cached values of the keys, empty ones as None; keys not cached, sorted)``."""
        found, missing = {}, []
        for key in {k for k in keys if k}:
            hit = self.get_or_none(key)
            if hit is None:
                missing.append(key)
            else:
                found[key] = hit or None
        return found, sorted(missing)

    def put(self, key, value) -> None:
        """Cache a value, evicting the least recently used beyond ``size``."""
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


def records_by_recid(recids: list[str], source: list[str]) -> list[dict]:
    """The records-index documents (``source`` fields) of up to :data:`CHUNK` recids."""
    response = search_client.search(
        index=records_alias(),
        body={"query": {"terms": {"id": recids}}, "size": len(recids), "_source": source},
    )
    return [hit["_source"] for hit in response["hits"]["hits"]]


class RecordLookup:
    """``recid`` -> :func:`record_facts` of the record (deleted ones too), files from the DB."""

    MISSING: dict = {}

    def __init__(self, cache_size: int = 20000):
        self.cache = LRU(cache_size)
        self.requests = 0

    def facts(self, recids: Iterable[str]) -> dict[str, dict | None]:
        """Facts of each recid (``None`` for a record the index does not have)."""
        found, missing = self.cache.split(recids)
        for chunk in chunks(missing, CHUNK):
            self.requests += 1
            page = [record_facts(source) for source in records_by_recid(chunk, SOURCE_FIELDS)]
            attach_database_files(page)
            for facts in page:
                found[facts["recid"]] = facts
                self.cache.put(facts["recid"], facts)
            for recid in chunk:
                if recid not in found:
                    self.cache.put(recid, self.MISSING)
                    found[recid] = None
        return found


class MembershipLookup:
    """Record UUID -> member days ``{community_id: [interval, ...]}`` (the one membership rule).

    A record without any history document gets ``None``.
    """

    def __init__(self, cache_size: int = 20000):
        self.cache = LRU(cache_size)
        self.requests = 0
        self.available = history_exists()

    def intervals(self, record_ids: Iterable[str]) -> dict[str, dict[str, list[Interval]] | None]:
        """Member days per community of each record (``None``: no history at all)."""
        result, missing = self.cache.split(record_ids)
        for chunk in chunks(missing, CHUNK):
            self.requests += 1
            history = read_history(chunk)
            for rid in chunk:
                value = member_days(history.get(rid, []))
                self.cache.put(rid, value)
                result[rid] = value or None
        return result


def member_days(events: Iterable[HistoryEvent]) -> dict[str, list[Interval]]:
    """One record's member days per community (``global`` included) from its history."""
    return {
        community: day_intervals(changes)
        for community, changes in changes_by_community(events).items()
    }


def communities_on(intervals: dict | None, day: date) -> list[str]:
    """Communities (not "global") the record was a member of on ``day``."""
    if not intervals:
        return []
    return sorted(c for c, spans in intervals.items() if c != GLOBAL and member_on(spans, day))


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
                    communities = communities_on(intervals, day_of(event["timestamp"]))
            enrich_event(event, record, communities, event_name)
        return events
