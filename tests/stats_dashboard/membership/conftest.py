"""Fixtures and helpers of the membership-history tests."""

import pytest
from invenio_search import current_search_client

from invenio_stats_dashboard.core.indices import events_alias


def history_of(record_id) -> list[tuple[str, str, str]]:
    """The stored events of a record as sorted (community_id, event_type, event_date)."""
    current_search_client.indices.refresh(index=events_alias(), ignore_unavailable=True)
    response = current_search_client.search(
        index=events_alias(),
        body={"query": {"term": {"record_id": str(record_id)}}, "size": 1000},
        ignore_unavailable=True,
        allow_no_indices=True,
    )
    return sorted(
        (h["_source"]["community_id"], h["_source"]["event_type"], h["_source"]["event_date"])
        for h in response["hits"]["hits"]
    )


def event_docs(record_id) -> list[dict]:
    """Full stored event documents of a record (with ``_id`` and ``_index``)."""
    current_search_client.indices.refresh(index=events_alias(), ignore_unavailable=True)
    response = current_search_client.search(
        index=events_alias(),
        body={"query": {"term": {"record_id": str(record_id)}}, "size": 1000},
        ignore_unavailable=True,
        allow_no_indices=True,
    )
    return [
        {"_id": h["_id"], "_index": h["_index"], **h["_source"]} for h in response["hits"]["hits"]
    ]


def delete_history() -> None:
    """Drop every membership-event index (a backfill then starts from nothing)."""
    current_search_client.indices.delete(
        index=f"{events_alias()}-*", ignore=[404], expand_wildcards="all"
    )


@pytest.fixture()
def depositor(make_user):
    """A second user, not a member of the communities (its inclusions need review)."""
    return make_user("depositor@example.org")
