"""Live tracking: real service calls write the exact membership history."""

from datetime import UTC, datetime

from invenio_access.permissions import system_identity
from invenio_db import db
from invenio_rdm_records.proxies import current_rdm_records, current_rdm_records_service
from invenio_rdm_records.records.api import RDMRecord
from invenio_requests.proxies import current_requests_service
from invenio_search import current_search_client

from invenio_stats_dashboard.core.days import to_datetime as parse_datetime
from invenio_stats_dashboard.core.indices import events_index, refresh_record_classes
from invenio_stats_dashboard.membership.service import reconcile_membership

from .conftest import event_docs, history_of


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _by_community(record_id) -> dict[str, list[tuple[str, datetime]]]:
    """Events per community, in chronological order: (event_type, event_date)."""
    out: dict[str, list] = {}
    for community_id, event_type, when in history_of(record_id):
        out.setdefault(community_id, []).append((event_type, parse_datetime(when)))
    return {k: sorted(v, key=lambda e: (e[1], e[0] == "removed")) for k, v in out.items()}


def _within(value: datetime, start: datetime, end: datetime) -> bool:
    return start <= value <= end


def _created(record_id) -> datetime:
    return parse_datetime(RDMRecord.get_record(record_id).model.created)


def test_publish_into_three_communities_delete_restore(
    running_app, community_factory, record_factory, search_clear
):
    """Publish into three communities, tombstone, restore: every step, with its dates."""
    communities = [community_factory(f"three-{n}") for n in range(3)]
    ids = sorted(str(c.id) for c in communities)
    t0 = _now()
    record = record_factory(communities=communities)
    t1 = _now()
    created = _created(record.id)

    history = _by_community(record.id)
    assert sorted(history) == sorted([*ids, "global"])
    assert history["global"] == [("added", created)]
    for cid in ids:
        assert len(history[cid]) == 1 and history[cid][0][0] == "added"
        assert _within(history[cid][0][1], t0, t1)
    assert {d["is_deleted"] for d in event_docs(record.id)} == {False}
    assert {d["record_published_date"] for d in event_docs(record.id)} == {"2020-06-01"}

    current_rdm_records_service.delete_record(
        system_identity, record["id"], {"note": "spam", "is_visible": True}
    )
    removal = parse_datetime(RDMRecord.get_record(record.id).tombstone.removal_date)
    history = _by_community(record.id)
    for cid in [*ids, "global"]:
        assert history[cid][-1] == ("removed", removal)
        assert len(history[cid]) == 2
    docs = event_docs(record.id)
    assert len(docs) == 8
    assert {d["is_deleted"] for d in docs} == {True}
    assert {parse_datetime(d["deleted_date"]) for d in docs} == {removal}

    t2 = _now()
    current_rdm_records_service.restore_record(system_identity, record["id"])
    t3 = _now()
    history = _by_community(record.id)
    for cid in [*ids, "global"]:
        assert [kind for kind, _ in history[cid]] == ["added", "removed", "added"]
        assert _within(history[cid][-1][1], t2, t3)
    docs = event_docs(record.id)
    assert len(docs) == 12
    assert {d["is_deleted"] for d in docs} == {False}
    assert {d["deleted_date"] for d in docs} == {None}
    # documents land in the yearly index of their event date
    assert {d["_index"] for d in docs} == {events_index(t0.year)}


def test_inclusion_request_accepted_then_removed(
    running_app, community_factory, record_factory, owner, depositor, search_clear
):
    """A depositor asks to include a record; the community owner accepts, later removes it."""
    community = community_factory("reviewed")
    record = record_factory(identity=depositor.identity)
    created = _created(record.id)
    assert _by_community(record.id) == {"global": [("added", created)]}

    service = current_rdm_records.record_communities_service
    processed, errors = service.add(
        depositor.identity, record["id"], {"communities": [{"id": str(community.id)}]}
    )
    assert errors == []
    request_id = processed[0]["request_id"]
    # an open request is not a membership
    assert _by_community(record.id) == {"global": [("added", created)]}

    t0 = _now()
    current_requests_service.execute_action(owner.identity, request_id, "accept")
    t1 = _now()
    history = _by_community(record.id)
    assert history["global"] == [("added", created)]
    assert [kind for kind, _ in history[str(community.id)]] == ["added"]
    assert _within(history[str(community.id)][0][1], t0, t1)

    t2 = _now()
    processed, errors = service.remove(
        owner.identity, record["id"], {"communities": [{"id": str(community.id)}]}
    )
    t3 = _now()
    assert errors == []
    history = _by_community(record.id)
    assert [kind for kind, _ in history[str(community.id)]] == ["added", "removed"]
    assert _within(history[str(community.id)][1][1], t2, t3)
    assert history["global"] == [("added", created)]


def test_new_version_enters_parent_communities(
    running_app, community_factory, record_factory, owner, search_clear
):
    """A new version is its own record and enters the parent's communities when published."""
    community = community_factory("versioned")
    first = record_factory(communities=[community])
    before = history_of(first.id)
    service = current_rdm_records_service
    draft = service.new_version(owner.identity, first["id"])
    t0 = _now()
    second = service.publish(owner.identity, draft.id)._record
    t1 = _now()
    assert history_of(first.id) == before
    history = _by_community(second.id)
    assert history["global"] == [("added", _created(second.id))]
    assert [kind for kind, _ in history[str(community.id)]] == ["added"]
    assert _within(history[str(community.id)][0][1], t0, t1)


def test_failed_history_write_keeps_record_and_is_reconciled(
    running_app, community_factory, record_factory, search_clear, caplog
):
    """A failing search write is logged, the publish succeeds, reconciliation repairs it."""
    community = community_factory("broken-index")
    # an index of this year whose mapping rejects the event documents
    index = events_index(_now().year)
    current_search_client.indices.create(
        index=index, body={"mappings": {"properties": {"event_date": {"type": "long"}}}}
    )
    record = record_factory(communities=[community])
    assert "Membership history not updated" in caplog.text
    assert RDMRecord.get_record(record.id)["id"] == record["id"]
    assert history_of(record.id) == []

    current_search_client.indices.delete(index=index)
    summary = reconcile_membership()
    assert summary["events_created"] == 2
    history = _by_community(record.id)
    assert history["global"] == [("added", _created(record.id))]
    assert [kind for kind, _ in history[str(community.id)]] == ["added"]
    assert reconcile_membership()["events_created"] == 0


def test_reconcile_repairs_change_made_without_a_service(
    running_app, community_factory, record_factory, search_clear
):
    """A membership removed straight in the database (no hook) is repaired with its date."""
    keep, drop = community_factory("keep"), community_factory("drop")
    record = record_factory(communities=[keep, drop])
    record = RDMRecord.get_record(record.id)
    record.parent.communities.remove(str(drop.id))
    record.parent.commit()
    db.session.commit()
    current_rdm_records_service.indexer.index(record)
    refresh_record_classes(RDMRecord)
    changed = parse_datetime(record.parent.model.updated)

    assert reconcile_membership()["events_created"] == 1
    history = _by_community(record.id)
    assert [kind for kind, _ in history[str(keep.id)]] == ["added"]
    assert history[str(drop.id)][-1] == ("removed", changed)
    assert reconcile_membership()["events_created"] == 0


def test_bulk_add_is_tracked(running_app, community_factory, record_factory, search_clear):
    """Records added to a community in bulk (no request) enter it at that moment."""
    community = community_factory("bulk")
    records = [record_factory() for _ in range(2)]
    t0 = _now()
    errors = current_rdm_records.record_communities_service.bulk_add(
        system_identity, str(community.id), [r["id"] for r in records]
    )
    t1 = _now()
    assert errors == []
    for record in records:
        history = _by_community(record.id)
        assert history["global"] == [("added", _created(record.id))]
        assert [kind for kind, _ in history[str(community.id)]] == ["added"]
        assert _within(history[str(community.id)][0][1], t0, t1)


def test_community_submission_accepted(
    running_app, community_factory, owner, depositor, search_clear
):
    """A draft submitted to a community enters it when the owner accepts (and it publishes)."""
    from invenio_rdm_records.records.api import RDMDraft

    from invenio_stats_dashboard.demo.factories import default_metadata

    community = community_factory("submissions")
    service = current_rdm_records_service
    draft = service.create(
        depositor.identity,
        {
            "pids": {},
            "access": {"record": "public", "files": "public"},
            "files": {"enabled": False},
            "metadata": default_metadata("Submitted for review"),
        },
    )
    draft_obj = RDMDraft.pid.resolve(draft.id, registered_only=False)
    service.review.create(
        depositor.identity,
        {"type": "community-submission", "receiver": {"community": str(community.id)}},
        draft_obj,
    )
    request = service.review.submit(depositor.identity, draft.id)
    assert history_of(draft_obj.id) == []
    t0 = _now()
    current_requests_service.execute_action(owner.identity, request.id, "accept")
    t1 = _now()
    history = _by_community(draft_obj.id)
    assert history["global"] == [("added", _created(draft_obj.id))]
    assert [kind for kind, _ in history[str(community.id)]] == ["added"]
    assert _within(history[str(community.id)][0][1], t0, t1)


def test_inclusion_requests_are_tracked_whatever_the_extension_order(running_app):
    """invenio-requests may build its type registry before this extension configures the
    tracked request class; ``finalize_app`` then swaps it in."""
    from invenio_rdm_records.requests import CommunityInclusion
    from invenio_requests.proxies import current_request_type_registry

    from invenio_stats_dashboard.membership.tracking import track_registered_inclusion_requests

    def tracked():
        accept = current_request_type_registry.lookup(CommunityInclusion.type_id)
        return getattr(accept.available_actions["accept"], "tracks_membership", False)

    assert tracked()  # as the app factory left it
    current_request_type_registry.register_type(CommunityInclusion(), force=True)
    assert not tracked()  # as if invenio-requests had been initialised first
    track_registered_inclusion_requests(running_app.app)
    assert tracked()
