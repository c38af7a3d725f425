"""Reads for the records aggregations: records' facts, records edited lately.

Per page of a community's records (its history is read by
:func:`~invenio_stats_dashboard.membership.store.community_history`): one ``ids``
search of the records index (descriptive fields) and two SQL queries (files, whatever
their access). Nothing is truncated. Per run: which records changed lately
(:func:`latest_edits`, paged over those records only).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from flask import current_app

from ...core.days import to_datetime
from ...core.engine import search_client
from ...core.indices import records_alias
from ...core.paging import chunks, search_after_pages
from ...record_facts import SOURCE_FIELDS, attach_database_files, record_facts
from .facts import RecordFacts, counting_facts, missing_facts


def page_size() -> int:
    """Documents per read request (``COMMUNITY_STATS_AGGREGATION_PAGE_SIZE``)."""
    return int(current_app.config.get("COMMUNITY_STATS_AGGREGATION_PAGE_SIZE") or 2000)


def load_facts(
    record_ids: Iterable[str], keys: list[str], labels: dict[str, dict[str, str]]
) -> dict[str, RecordFacts]:
    """Counting facts of the given records (by UUID); adds their values' labels to ``labels``."""
    ids = sorted(set(record_ids))
    facts: dict[str, RecordFacts] = {}
    for chunk in chunks(ids, min(page_size(), 10000)):
        response = search_client.search(
            index=records_alias(),
            body={"size": len(chunk), "query": {"ids": {"values": chunk}}},
            _source_includes=SOURCE_FIELDS,
        )
        page = [
            {**record_facts(hit["_source"]), "record_id": hit["_id"]}
            for hit in response["hits"]["hits"]
        ]
        attach_database_files(page)
        for found in page:
            facts[found["record_id"]] = counting_facts(found, keys, labels)
    for record_id in ids:
        if record_id not in facts:
            facts[record_id] = missing_facts(record_id)
    return facts


def edit_margin() -> timedelta:
    """How much earlier than a run an edit or a history write still counts as news.

    (``COMMUNITY_STATS_RECORDS_EDIT_MARGIN``: clock skew between hosts, indexing lag.)
    """
    return timedelta(
        seconds=int(current_app.config.get("COMMUNITY_STATS_RECORDS_EDIT_MARGIN", 300))
    )


EDITED_FIELD = "updated"
"""When a record last changed (the records index has no indexing time)."""


def latest_edits(since: datetime) -> dict[str, datetime]:
    """``record id -> when it changed`` for the records changed at or after ``since``.

    Paged over the changed records only (their ids and ``updated``).
    """
    body = {
        "query": {"range": {EDITED_FIELD: {"gte": since.isoformat()}}},
        "sort": [{"uuid": "asc"}],
        "_source": [EDITED_FIELD],
    }
    return {
        hit["_id"]: to_datetime(hit["_source"][EDITED_FIELD])
        for page in search_after_pages(
            search_client,
            records_alias(),
            body,
            page_size(),
            ignore_unavailable=True,
            allow_no_indices=True,
        )
        for hit in page
    }


class RecentEdits:
    """:func:`latest_edits` read once for a run's workspaces (each asks from its own moment).

    A later moment is answered from the records already read; an earlier one reads again.
    """

    def __init__(self):
        """Nothing read yet."""
        self.read_since: datetime | None = None
        self.found: dict[str, datetime] = {}

    def since(self, moment: datetime) -> set[str]:
        """Records edited at or after ``moment``."""
        if self.read_since is None or moment < self.read_since:
            self.found, self.read_since = latest_edits(moment), moment
        return {record_id for record_id, edited in self.found.items() if edited >= moment}
