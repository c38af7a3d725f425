"""Fixtures and helpers of the membership-history tests."""

import pytest
from invenio_access.permissions import system_identity
from invenio_rdm_records.proxies import current_rdm_records, current_rdm_records_service
from invenio_rdm_records.records.api import RDMRecord
from invenio_requests.proxies import current_requests_service
from invenio_requests.records.api import Request
from invenio_search import current_search_client

from invenio_stats_dashboard.core.days import to_datetime as parse_datetime
from invenio_stats_dashboard.core.indices import events_alias
from invenio_stats_dashboard.demo import factories


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


def build_site(app, owner, depositor) -> dict:
    """Four records built with live tracking off, so the history starts empty.

    r1: in alpha, created 2019-03-04, published "2018-05" (no request);
    r2: the depositor's, created 2021-01-02, included in beta by an accepted request;
    r3: in alpha, beta and gamma, created 2020-02-02, then deleted;
    r4: in no community, created 2022-07-07.
    """
    tracking = app.config.get("COMMUNITY_STATS_TRACK_MEMBERSHIP", True)
    app.config["COMMUNITY_STATS_TRACK_MEMBERSHIP"] = False
    try:
        alpha, beta, gamma = (
            factories.create_community(owner.identity, s) for s in ("alpha", "beta", "gamma")
        )
        r1 = factories.publish_record(
            owner.identity,
            communities=[alpha],
            created="2019-03-04T10:00:00",
            metadata=factories.default_metadata("Record one", publication_date="2018-05"),
        )
        r2 = factories.publish_record(depositor.identity, created="2021-01-02T00:00:00")
        processed, _ = current_rdm_records.record_communities_service.add(
            depositor.identity, r2["id"], {"communities": [{"id": str(beta.id)}]}
        )
        request_id = processed[0]["request_id"]
        current_requests_service.execute_action(owner.identity, request_id, "accept")
        r3 = factories.publish_record(
            owner.identity, communities=[alpha, beta, gamma], created="2020-02-02T12:00:00"
        )
        current_rdm_records_service.delete_record(system_identity, r3["id"], {"note": "x"})
        r4 = factories.publish_record(owner.identity, created="2022-07-07T00:00:00")
    finally:
        app.config["COMMUNITY_STATS_TRACK_MEMBERSHIP"] = tracking
    return {
        "alpha": str(alpha.id),
        "beta": str(beta.id),
        "gamma": str(gamma.id),
        "r1": RDMRecord.get_record(r1.id),
        "r2": RDMRecord.get_record(r2.id),
        "r3": RDMRecord.get_record(r3.id),
        "r4": RDMRecord.get_record(r4.id),
        "accepted": parse_datetime(Request.get_record(request_id).model.updated),
    }


@pytest.fixture()
def site(app, running_app, owner, depositor, db, search_clear):
    """:func:`build_site` within the test's transaction."""
    return build_site(app, owner, depositor)
