"""Read and write the membership history (``stats-community-events-YYYY``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import date, datetime

from flask import current_app
from invenio_search import current_search_client
from invenio_search.utils import prefix_index
from opensearchpy import helpers

from ..search.setup import ensure_search_setup
from .model import HistoryEvent, RecordPlan, parse_datetime

EVENTS_INDEX = "stats-community-events"
HISTORY_PAGE_SIZE = 5000
"""Events read per request when loading the history of a batch of records."""

REQUEST_TIMEOUT = 120
"""Seconds a bulk write or history read may take (more than the client's 10 s default:
a loaded cluster can need it)."""

_HISTORY_SORT = [
    {"record_id": "asc"},
    {"community_id": "asc"},
    {"event_date": "asc"},
    {"event_type": "asc"},
]


def events_alias() -> str:
    """The (prefixed) alias over all yearly membership-event indices."""
    return prefix_index(EVENTS_INDEX)


def events_index_for(when: str | date | datetime) -> str:
    """The (prefixed) yearly index an event dated ``when`` belongs to."""
    if isinstance(when, str):
        when = parse_datetime(when)
    return f"{events_alias()}-{when.year:04d}"


def read_history(record_ids: Iterable[str]) -> dict[str, list[HistoryEvent]]:
    """All stored events of the given records, grouped by record id.

    Pages with ``search_after`` (sorted on the fields that make an event unique), so a
    batch of records costs one request unless it holds more than ``HISTORY_PAGE_SIZE``
    events. A missing index is an empty history.
    """
    ids = sorted(set(record_ids))
    history: dict[str, list[HistoryEvent]] = defaultdict(list)
    if not ids:
        return history
    body = {
        "query": {"terms": {"record_id": ids}},
        "sort": _HISTORY_SORT,
        "size": HISTORY_PAGE_SIZE,
    }
    while True:
        response = current_search_client.search(
            index=events_alias(),
            body=body,
            ignore_unavailable=True,
            allow_no_indices=True,
            request_timeout=REQUEST_TIMEOUT,
        )
        hits = response["hits"]["hits"]
        for hit in hits:
            history[hit["_source"]["record_id"]].append(HistoryEvent.from_hit(hit))
        if len(hits) < HISTORY_PAGE_SIZE:
            return history
        body["search_after"] = hits[-1]["sort"]


def plan_actions(plans: Iterable[RecordPlan]) -> Iterator[dict]:
    """Bulk actions for the plans: index new events, delete re-dated ones, update flags."""
    for plan in plans:
        for index, doc_id in plan.deletes:
            yield {"_op_type": "delete", "_index": index, "_id": doc_id}
        for doc in plan.new_events:
            source = {k: v for k, v in doc.items() if k != "_id"}
            yield {
                "_op_type": "index",
                "_index": events_index_for(doc["event_date"]),
                "_id": doc["_id"],
                "_source": source,
            }
        for index, doc_id, changes in plan.updates:
            yield {"_op_type": "update", "_index": index, "_id": doc_id, "doc": changes}


def write_plans(plans: Iterable[RecordPlan], refresh: bool = False) -> int:
    """Write the plans (one batch, in memory) with ``streaming_bulk``; returns the actions.

    Raises ``opensearchpy.helpers.BulkIndexError`` if any action fails (nothing is
    lost: a re-run plans the same writes again).
    """
    # grouped by index (stable: one document's actions keep their order): the engine
    # handles a bulk request faster when each index's actions are together
    ensure_search_setup()
    actions = sorted(plan_actions(plans), key=lambda action: action["_index"])
    written = 0
    for ok, _item in helpers.streaming_bulk(
        current_search_client,
        actions,
        chunk_size=current_app.config.get("COMMUNITY_STATS_EVENTS_BULK_CHUNK_SIZE", 2000),
        raise_on_error=True,
        max_retries=2,
        request_timeout=REQUEST_TIMEOUT,
    ):
        written += int(ok)
    if written and refresh:
        refresh_history()
    return written


def refresh_history() -> None:
    """Make written events searchable (a no-op when no index exists yet)."""
    current_search_client.indices.refresh(
        index=events_alias(), ignore_unavailable=True, allow_no_indices=True
    )
