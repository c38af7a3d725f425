"""The demo site builder builds what it says, through the real services."""

from datetime import date

from invenio_access.permissions import system_identity
from invenio_communities.proxies import current_communities
from invenio_rdm_records.proxies import current_rdm_records_service
from invenio_rdm_records.records.api import RDMRecord

from invenio_stats_dashboard.core.indices import refresh_record_classes
from invenio_stats_dashboard.demo.site import DemoSiteConfig, build_demo_site


def test_build_small_demo_site(running_app, db, search_clear):
    config = DemoSiteConfig(
        communities=4, migrated_communities=2, records=14, seed=3, today=date(2026, 6, 1)
    )
    site = build_demo_site(config)
    refresh_record_classes(RDMRecord)
    summary = site.summary()
    assert summary["communities"] == 4
    assert summary["migrated communities"] == 2
    assert summary["records"] == 14
    assert summary["deletions"] == 1

    communities = current_communities.service.search(system_identity, size=50)
    group_ids = sorted(
        c["custom_fields"]["kcr:commons_group_id"]
        for c in communities
        if c.get("custom_fields", {}).get("kcr:commons_group_id")
    )
    assert group_ids == ["1001", "1002"]

    res = current_rdm_records_service.search(system_identity, params={"size": 100})
    assert res.total == 14 - 1  # the deleted one is tombstoned
    by_id = {hit["id"]: hit for hit in res}
    assert set(by_id) == {r["id"] for r in site.records} - set(site.deleted)
    for record_id, community_id in site.added:
        if record_id not in site.deleted:
            assert community_id in by_id[record_id]["parent"]["communities"]["ids"]
    for record_id, community_id in site.removed:
        if record_id not in site.deleted:
            assert community_id not in by_id[record_id]["parent"]["communities"]["ids"]
    for record in site.records:
        legacy = record.get("custom_fields", {}).get("hclegacy:groups_for_deposit")
        if legacy and record["id"] in by_id:
            assert by_id[record["id"]]["created"].startswith("2026-")
