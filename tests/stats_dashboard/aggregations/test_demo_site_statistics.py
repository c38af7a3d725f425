"""The demo site, at a small size, through the product's whole job, against brute force.

The site builder publishes records through the real services with live membership
tracking on; the job then repairs migrated created dates, backfills the history and
aggregates. The expectation is built only from what the builder was asked to do (its
record specs and the membership operations it made, with their moments), never from
the stored history or aggregations.
"""

from datetime import UTC, datetime, timedelta

import pytest
from invenio_accounts.models import User
from invenio_rdm_records.records.api import RDMRecord

from invenio_stats_dashboard.aggregations.service import run_aggregations
from invenio_stats_dashboard.core.indices import refresh_record_classes
from invenio_stats_dashboard.demo.site import DemoSiteConfig, build_demo_site
from invenio_stats_dashboard.membership.service import generate_community_events

from .conftest import Site, SiteRecord, reset_stats_indices
from .expected import Truth, assert_matches, expected_documents

TODAY = datetime.now(UTC).date()
EARLIEST = TODAY - timedelta(days=400)
CONFIG = DemoSiteConfig(
    communities=4, migrated_communities=2, records=18, history_days=60, seed=52, today=TODAY
)
CONFIG_START = TODAY - timedelta(days=CONFIG.history_days)
"""Records created before this day are migrated ones (created by the repair)."""
LEGACY_FORMATS = ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d")


@pytest.fixture(scope="module")
def app_config(app_config):
    """As the demo runs: live tracking and reconciliation on; a recent earliest date."""
    app_config.update(
        COMMUNITY_STATS_EARLIEST_DATE=EARLIEST.isoformat(),
        COMMUNITY_STATS_TRACK_MEMBERSHIP=True,
        COMMUNITY_STATS_RECONCILE_BEFORE_AGGREGATION=True,
    )
    return app_config


def legacy_created(value: str) -> datetime | None:
    """The instant (naive UTC) of a legacy value in one of the builder's formats."""
    for fmt in LEGACY_FORMATS:
        try:
            parsed = datetime.strptime(value, fmt)
        except ValueError:
            continue
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
        return parsed
    return None


def site_record(key: str, spec, deleted: bool) -> SiteRecord:
    """Fixture truth of one demo record, from the spec it was published with."""
    metadata = spec.metadata
    created = spec.created
    legacy = spec.custom_fields.get("hclegacy:record_creation_date")
    if legacy is not None and not deleted:  # deleted records are not repaired
        created = legacy_created(legacy) or created
    return SiteRecord(
        key,
        0,
        created.date(),
        metadata["publication_date"],
        dict(spec.files),
        resource_type=metadata["resource_type"]["id"],
        languages=tuple(lang["id"] for lang in metadata["languages"]),
        subjects=tuple(s["id"] for s in metadata.get("subjects", [])),
        rights=tuple(r["id"] for r in metadata.get("rights", [])),
        funders=tuple(f["funder"]["id"] for f in metadata.get("funding", [])),
        publisher=metadata["publisher"],
        affiliations=tuple(
            a["id"] for c in metadata["creators"] for a in c.get("affiliations", [])
        ),
        deleted=deleted,
    )


def membership_history(demo, records: dict[str, SiteRecord], names: dict[str, str]) -> list:
    """``(record, community, event, day)`` from the builder's operations and their moments."""
    history = [(key, "global", "added", r.created) for key, r in records.items()]
    members: dict[str, set[str]] = {}
    for op in demo.operations:
        day = op.moment.date()
        current = members.setdefault(op.record_id, set())
        if op.action in ("published", "added"):
            current.update(op.community_ids)
            history += [(op.record_id, names[c], "added", day) for c in op.community_ids]
        elif op.action == "removed":
            current.difference_update(op.community_ids)
            history += [(op.record_id, names[c], "removed", day) for c in op.community_ids]
        else:  # deleted: leaves every community and global
            history += [(op.record_id, names[c], "removed", day) for c in sorted(current)]
            history.append((op.record_id, "global", "removed", day))
            current.clear()
    return history


def test_demo_site_statistics_match_brute_force(running_app, db, search_clear):
    from invenio_record_importer_kcworks.services import CommunitiesHelper, RecordsHelper

    reset_stats_indices()
    demo = build_demo_site(CONFIG)
    refresh_record_classes(RDMRecord)
    builder_did_what_it_says(demo)
    # the job, as run-demo.sh runs it
    records_repair = RecordsHelper().update_record_created_dates()
    CommunitiesHelper().update_community_created_dates()
    generate_community_events()
    end = max(op.moment for op in demo.operations).date()
    run_aggregations(end=end)

    names = {str(c.id): c["slug"] for c in demo.communities}
    deleted = set(demo.deleted)
    records = {key: site_record(key, spec, key in deleted) for key, spec in demo.specs.items()}
    owner = User.query.filter_by(email="demo@example.org").one()  # the builder's user
    site = Site(
        communities={slug: cid for cid, slug in names.items()},
        slugs={slug: slug for slug in names.values()},
        records={r["id"]: r for r in demo.records},
        owners=[str(owner.id)],
    )
    history = membership_history(demo, records, names)
    truth = Truth(site, history=history, records=list(records.values()), earliest=EARLIEST)
    assert_matches(site, truth, end=end, communities=(*names.values(), "global"))

    # the site does exercise the repair (an invalid legacy value and a deleted record
    # left alone), folding onto the earliest date, and removals and a deletion
    assert {str(r.parent.access.owned_by.owner_id) for r in demo.records} == {str(owner.id)}
    assert demo.legacy_errors == len(records_repair["errors"]) == 1
    migrated = [key for key, spec in demo.specs.items() if spec.custom_fields]
    assert records_repair["updated"] == len(migrated) - 1 - len(deleted & set(migrated))
    created = expected_documents(truth, "global", "delta", "created", end)
    repaired = [r.created for r in records.values() if EARLIEST < r.created < CONFIG_START]
    assert repaired and all(sum(created[day]["records"]["added"].values()) for day in repaired)
    assert min(expected_documents(truth, "global", "snapshot", "published", end)) == EARLIEST
    assert sum(created[end]["records"]["removed"].values()) == 1  # the deletion
    assert demo.added and demo.removed

    # a history rebuilt from scratch dates each join by the pinned rule: the accepted
    # request's time where one exists, else the record's created; never before created
    rebuilt_history_follows_the_rule(demo)


def builder_did_what_it_says(demo) -> None:
    """The site in the services is the one the builder reports (before the job runs)."""
    from invenio_access.permissions import system_identity
    from invenio_communities.proxies import current_communities
    from invenio_rdm_records.proxies import current_rdm_records_service

    summary = demo.summary()
    assert summary["communities"] == CONFIG.communities
    assert summary["migrated communities"] == CONFIG.migrated_communities
    assert summary["records"] == CONFIG.records
    assert summary["deletions"] == len(demo.deleted) == 1
    communities = current_communities.service.search(system_identity, size=50)
    group_ids = sorted(
        c["custom_fields"]["kcr:commons_group_id"]
        for c in communities
        if c.get("custom_fields", {}).get("kcr:commons_group_id")
    )
    assert group_ids == ["1001", "1002"]
    found = current_rdm_records_service.search(system_identity, params={"size": 100})
    assert found.total == CONFIG.records - 1  # the deleted one is tombstoned
    by_id = {hit["id"]: hit for hit in found}
    assert set(by_id) == {r["id"] for r in demo.records} - set(demo.deleted)
    for record_id, community_id in demo.added:
        if record_id not in demo.deleted:
            assert community_id in by_id[record_id]["parent"]["communities"]["ids"]
    for record_id, community_id in demo.removed:
        if record_id not in demo.deleted:
            assert community_id not in by_id[record_id]["parent"]["communities"]["ids"]
    for record in demo.records:
        legacy = record.get("custom_fields", {}).get("hclegacy:groups_for_deposit")
        if legacy and record["id"] in by_id:  # created in the site's days; the repair comes later
            assert by_id[record["id"]]["created"][:10] >= CONFIG_START.isoformat()


def rebuilt_history_follows_the_rule(demo) -> None:
    from invenio_requests.records.models import RequestMetadata
    from invenio_search import current_search_client

    from invenio_stats_dashboard.core.days import to_datetime
    from invenio_stats_dashboard.core.indices import events_alias

    current_search_client.indices.delete(
        index=f"{events_alias()}-*", ignore=[404], expand_wildcards="all"
    )
    generate_community_events()
    current_search_client.indices.refresh(index=events_alias())
    created = {r["id"]: to_datetime(RDMRecord.get_record(r.id).model.created) for r in demo.records}
    uuids = {str(r.id): r["id"] for r in demo.records}
    # the requests the builder made (record_communities_service.add), and when each was accepted
    accepted = {}
    for request in RequestMetadata.query.all():
        data = request.json or {}
        record = (data.get("topic") or {}).get("record")
        community = (data.get("receiver") or {}).get("community")
        if data.get("status") == "accepted" and record and community:
            accepted[(record, community)] = to_datetime(request.updated)
    assert {pair for pair in accepted} >= set(demo.added)
    hits = current_search_client.search(
        index=events_alias(), body={"query": {"term": {"event_type": "added"}}, "size": 10000}
    )["hits"]["hits"]
    assert hits
    for hit in hits:
        event = hit["_source"]
        recid = uuids[event["record_id"]]
        when = to_datetime(event["event_date"])
        request = accepted.get((recid, event["community_id"]))
        expected = max(request, created[recid]) if request else created[recid]
        assert when == expected, (recid, event["community_id"])
        assert when >= created[recid]
