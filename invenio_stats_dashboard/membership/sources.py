"""Where a record's current membership comes from: the records index or the database."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from invenio_db import db
from invenio_rdm_records.records.models import (
    RDMParentCommunity,
    RDMParentMetadata,
    RDMRecordMetadata,
)
from invenio_requests.records.models import RequestMetadata

from ..core.days import day_range_query, edtf_first_day, to_datetime
from ..core.engine import search_client
from ..core.indices import records_alias
from ..core.paging import search_after_pages
from .plan import Evidence, RecordState

DELETED_STATUSES = {"D", "X"}
"""RDM deletion statuses of a tombstoned record (deleted, marked for purge)."""

_RECORD_SOURCE = [
    "id",
    "parent.uuid",
    "parent.communities.ids",
    "created",
    "updated",
    "metadata.publication_date",
    "deletion_status",
    "tombstone.removal_date",
]


@dataclass(frozen=True)
class RecordFilter:
    """Which records a backfill or status run covers.

    ``community_ids``: member of any (UUIDs); ``record_ids``: record UUIDs or PID values;
    ``start`` / ``end``: ``created`` day range, both inclusive.
    """

    community_ids: tuple[str, ...] = ()
    record_ids: tuple[str, ...] = ()
    start: date | None = None
    end: date | None = None

    def query(self) -> dict:
        """The records-index query of this filter."""
        filters: list[dict] = []
        if self.community_ids:
            filters.append({"terms": {"parent.communities.ids": list(self.community_ids)}})
        if self.record_ids:
            uuids = [value for value in self.record_ids if _is_uuid(value)]
            should = [{"terms": {"id": list(self.record_ids)}}]
            if uuids:
                should.append({"ids": {"values": uuids}})
            filters.append({"bool": {"should": should, "minimum_should_match": 1}})
        created = day_range_query("created", self.start, self.end)
        if created:
            filters.append(created)
        return {"bool": {"filter": filters}} if filters else {"match_all": {}}


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def unknown_record_ids(record_ids: Iterable[str]) -> list[str]:
    """The given record PIDs or UUIDs that match no record of the records index."""
    wanted = list(dict.fromkeys(record_ids))
    if not wanted:
        return []
    body = {
        "query": RecordFilter(record_ids=tuple(wanted)).query(),
        "_source": ["id"],
        "sort": [{"id": "asc"}],
    }
    found: set[str] = set()
    for page in search_after_pages(search_client, records_alias(), body, 1000):
        for hit in page:
            found.update((hit["_id"], str(hit["_source"].get("id"))))
    return [value for value in wanted if value not in found]


def count_records(record_filter: RecordFilter) -> int:
    """Number of records the filter covers (one request)."""
    response = search_client.count(index=records_alias(), body={"query": record_filter.query()})
    return response["count"]


def state_from_hit(hit: Mapping) -> RecordState:
    """A record's state from its records-index document."""
    src = hit["_source"]
    parent = src.get("parent") or {}
    deleted = src.get("deletion_status") in DELETED_STATUSES
    tombstone = src.get("tombstone") or {}
    return RecordState(
        record_id=hit["_id"],
        parent_id=parent.get("uuid"),
        communities=frozenset((parent.get("communities") or {}).get("ids") or ()),
        created=to_datetime(src["created"]),
        published_date=edtf_first_day((src.get("metadata") or {}).get("publication_date")),
        deleted=deleted,
        deleted_date=to_datetime(tombstone.get("removal_date")) if deleted else None,
        updated=to_datetime(src.get("updated")),
    )


def scan_record_states(record_filter: RecordFilter, batch_size: int) -> Iterator[list[RecordState]]:
    """Batches of record states: records picked from the index, state from the database.

    One search request and two SQL queries per batch; memory holds one batch.
    """
    body = {"query": record_filter.query(), "sort": [{"id": "asc"}], "_source": _RECORD_SOURCE}
    for hits in search_after_pages(search_client, records_alias(), body, batch_size):
        yield database_states([state_from_hit(hit) for hit in hits])


def load_evidence(states: Iterable[RecordState]) -> dict[str, Evidence]:
    """Per parent id: accepted-request times per community and the parent's last change.

    Two SQL queries for the whole batch.
    """
    parent_ids = {state.parent_id for state in states if state.parent_id}
    if not parent_ids:
        return {}
    keys = [uuid.UUID(str(pid)) for pid in parent_ids if _is_uuid(pid)]
    if not keys:
        return {}
    requests: dict[str, dict[str, datetime]] = defaultdict(dict)
    rows = (
        db.session.query(
            RDMParentCommunity.record_id,
            RDMParentCommunity.community_id,
            RequestMetadata.updated,
            RequestMetadata.json,
        )
        .join(RequestMetadata, RequestMetadata.id == RDMParentCommunity.request_id)
        .filter(RDMParentCommunity.record_id.in_(keys))
    )
    for parent_id, community_id, updated, data in rows:
        if (data or {}).get("status") == "accepted":
            requests[str(parent_id)][str(community_id)] = to_datetime(updated)
    parents = db.session.query(RDMParentMetadata.id, RDMParentMetadata.updated).filter(
        RDMParentMetadata.id.in_(keys)
    )
    return {
        str(parent_id): Evidence(
            request_times=requests.get(str(parent_id), {}),
            parent_updated=to_datetime(updated),
        )
        for parent_id, updated in parents
    }


def record_states_of_parents(parent_ids: Iterable[str]) -> list[RecordState]:
    """Current state of every published version of the given parents (database)."""
    keys = [uuid.UUID(str(pid)) for pid in set(parent_ids)]
    if not keys:
        return []
    return _states_from_rows(
        RDMRecordMetadata.query.filter(
            RDMRecordMetadata.parent_id.in_(keys), RDMRecordMetadata.is_deleted.is_(False)
        )
    )


def database_states(states: list[RecordState]) -> list[RecordState]:
    """The same records' current state from the database (two SQL queries).

    The records index picks which records a run covers, but it can lag behind the
    database (InvenioRDM reindexes a parent's other versions through a delayed bulk
    queue), and a history written from a stale index would be wrong for good. Records
    the database no longer holds keep their index state.
    """
    keys = [uuid.UUID(state.record_id) for state in states if _is_uuid(state.record_id)]
    if not keys:
        return list(states)
    fresh = {
        state.record_id: state
        for state in _states_from_rows(
            RDMRecordMetadata.query.filter(
                RDMRecordMetadata.id.in_(keys), RDMRecordMetadata.is_deleted.is_(False)
            )
        )
    }
    return [fresh.get(state.record_id, state) for state in states]


def _states_from_rows(rows) -> list[RecordState]:
    """Record states from published-record rows, with their parents' communities."""
    rows = list(rows)
    parent_keys = {row.parent_id for row in rows if row.parent_id}
    members: dict[str, set[str]] = defaultdict(set)
    if parent_keys:
        for parent_id, community_id in db.session.query(
            RDMParentCommunity.record_id, RDMParentCommunity.community_id
        ).filter(RDMParentCommunity.record_id.in_(parent_keys)):
            members[str(parent_id)].add(str(community_id))
    states = []
    for row in rows:
        data = row.json or {}
        status = getattr(row.deletion_status, "value", row.deletion_status)
        deleted = status in DELETED_STATUSES
        tombstone = data.get("tombstone") or {}
        states.append(
            RecordState(
                record_id=str(row.id),
                parent_id=str(row.parent_id),
                communities=frozenset(members.get(str(row.parent_id), ())),
                created=to_datetime(row.created),
                published_date=edtf_first_day((data.get("metadata") or {}).get("publication_date")),
                deleted=deleted,
                deleted_date=to_datetime(tombstone.get("removal_date")) if deleted else None,
                updated=to_datetime(row.updated),
            )
        )
    return states
