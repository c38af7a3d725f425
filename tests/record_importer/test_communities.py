"""Communities: ``created`` moved back to the day of the oldest legacy record of their group."""

import arrow
import pytest
from invenio_access.permissions import system_identity
from invenio_communities.proxies import current_communities
from invenio_rdm_records.proxies import current_rdm_records_service
from invenio_search import current_search_client

from invenio_record_importer_kcworks.services import CommunitiesHelper, RecordsHelper
from invenio_stats_dashboard.demo.factories import default_metadata

from .conftest import community_db_created, community_indexed_created, legacy_fields, utc

COMMUNITY_CREATED = "2024-05-02T08:00:00Z"

GROUPS = {
    # slug: (commons group id, current created)
    "g25": ("25", COMMUNITY_CREATED),
    "g125": ("125", COMMUNITY_CREATED),
    "g25b": ("25-b", COMMUNITY_CREATED),
    "gtest": ("test-group-123", COMMUNITY_CREATED),
    "gempty": ("999", COMMUNITY_CREATED),
    "gearlier": ("later", "2008-01-01T00:00:00Z"),
    "gbadonly": ("bad-only", COMMUNITY_CREATED),
}

RECORDS = [
    # (legacy date, groups)
    ("2012-05-06T07:08:09+02:00", ["25"]),  # 2012-05-06T05:08:09Z
    ("2014-01-01", ["25", "125"]),
    ("2010-03-03T23:30:00-05:00", ["125"]),  # 2010-03-04T04:30Z: the UTC day counts
    ("2009-01-01T00:00:00Z", ["25-b"]),  # looks like 25 to an analyzed query
    ("2011-11-11T11:11:11Z", ["test-group-123"]),
    ("2001-01-01", ["test-group-1234"]),
    ("2000-01-01", ["group-123"]),
    ("1999-01-01", ["test group 123"]),
    ("03/08/2017", ["25"]),  # unparseable: never the oldest
    ("", ["25", "bad-only"]),
    ("2017/2018", ["bad-only"]),
    ("2015-01-01", ["later"]),  # later than gearlier's current date
    ("2016-06-06", []),
]

EXPECTED = {
    "g25": "2012-05-06T00:00:00Z",
    "g125": "2010-03-04T00:00:00Z",
    "g25b": "2009-01-01T00:00:00Z",
    "gtest": "2011-11-11T00:00:00Z",
    "gempty": COMMUNITY_CREATED,
    "gearlier": "2008-01-01T00:00:00Z",
    "gbadonly": COMMUNITY_CREATED,
    "plain": COMMUNITY_CREATED,
}


def brute_force_oldest(records, group_id):
    """The expected oldest day, computed without the importer's code paths."""
    days = []
    for legacy, groups in records:
        if group_id in groups:
            try:
                days.append(arrow.get(legacy, "YYYY-MM-DDTHH:mm:ssZZ").to("UTC").floor("day"))
            except (arrow.parser.ParserError, ValueError):
                try:
                    days.append(arrow.get(legacy, "YYYY-MM-DD", tzinfo="UTC").floor("day"))
                except (arrow.parser.ParserError, ValueError):
                    continue
    return min(days) if days else None


@pytest.fixture()
def group_site(running_app, community_factory, legacy_record, owner):
    """Group communities, a plain one, their records, a deleted record and a draft."""
    communities = {
        slug: community_factory(
            slug, custom_fields={"kcr:commons_group_id": group_id}, created=created
        )
        for slug, (group_id, created) in GROUPS.items()
    }
    communities["plain"] = community_factory("plain", created=COMMUNITY_CREATED)
    for legacy, groups in RECORDS:
        legacy_record(legacy, groups=groups)
    # neither a deleted record nor a draft may set a community's date
    deleted = legacy_record("1990-01-01", groups=["25"])
    current_rdm_records_service.delete_record(
        system_identity, deleted["id"], {"removal_reason": {"id": "spam"}, "is_visible": True}
    )
    current_rdm_records_service.create(
        owner.identity,
        {
            "pids": {},
            "access": {"record": "public", "files": "public"},
            "files": {"enabled": False},
            "metadata": default_metadata("Draft"),
            "custom_fields": legacy_fields("1980-01-01", ["25"]),
        },
    )
    return communities


def test_expectations_are_what_a_brute_force_gives():
    """The hand-written expectations agree with a brute force over the fixture data."""
    for slug, (group_id, created) in GROUPS.items():
        oldest = brute_force_oldest(RECORDS, group_id)
        expected = oldest if oldest is not None and oldest < arrow.get(created) else created
        assert arrow.get(expected) == arrow.get(EXPECTED[slug]), slug


def test_communities_take_their_oldest_record_day(group_site, search_clear):
    """Exact group matching, UTC days, invalid dates ignored, later dates skipped."""
    stats = CommunitiesHelper().update_community_created_dates(batch_size=3)

    assert stats["total_found"] == 7
    assert (stats["updated"], stats["skipped"], stats["no_records"]) == (4, 1, 2)
    assert stats["errors"] == []
    assert stats["stopped_early"] is False
    for slug, community in group_site.items():
        assert community_db_created(community.id) == utc(EXPECTED[slug]), slug
        assert community_indexed_created(community.id) == utc(EXPECTED[slug]), slug

    # the communities service sorts by the new dates
    result = current_communities.service.search(
        system_identity, params={"sort": "oldest", "size": 20}
    )
    slugs = [hit["slug"] for hit in result]
    assert slugs[:5] == ["gearlier", "g25b", "g125", "gtest", "g25"]


def test_dry_run_changes_no_community(group_site, search_clear):
    """A dry run counts like a real run and writes nothing."""
    documents = {
        slug: current_communities.service.read(system_identity, c.id).to_dict()["revision_id"]
        for slug, c in group_site.items()
    }
    dry = CommunitiesHelper().update_community_created_dates(dry_run=True)

    assert (dry["total_found"], dry["updated"], dry["skipped"], dry["no_records"]) == (7, 4, 1, 2)
    for slug, community in group_site.items():
        assert community_db_created(community.id) == utc(
            GROUPS.get(slug, (None, COMMUNITY_CREATED))[1]
        )
        assert community_indexed_created(community.id) == community_db_created(community.id)
        revision = current_communities.service.read(system_identity, community.id).to_dict()
        assert revision["revision_id"] == documents[slug]

    real = CommunitiesHelper().update_community_created_dates()
    assert {k: real[k] for k in ("total_found", "updated", "skipped", "no_records")} == {
        k: dry[k] for k in ("total_found", "updated", "skipped", "no_records")
    }
    again = CommunitiesHelper().update_community_created_dates()
    assert (again["updated"], again["skipped"], again["no_records"]) == (0, 5, 2)


ONE_GROUP = {
    "25": "2012-05-06",
    "125": "2010-03-04",
    "25-b": "2009-01-01",
    "test-group-123": "2011-11-11",
    "test-group-1234": "2001-01-01",
    "group-123": "2000-01-01",
    "999": None,
    "bad-only": None,
    "2": None,
}


def test_find_oldest_record_for_community(group_site, search_clear):
    """The plan's single-group lookup matches group ids exactly."""
    helper = CommunitiesHelper()
    for group_id, expected in ONE_GROUP.items():
        oldest = helper.find_oldest_record_for_community(group_id)
        if expected is None:
            assert oldest is None, group_id
        else:
            assert isinstance(oldest, arrow.Arrow)
            assert oldest == arrow.get(expected), group_id


def test_find_communities_needing_update(group_site, search_clear):
    """Every non-deleted community with a Commons group id is listed, and only those."""
    found = CommunitiesHelper().find_communities_needing_created_date_update()
    assert {c["slug"]: c["group_id"] for c in found} == {s: g for s, (g, _) in GROUPS.items()}
    g25 = next(c for c in found if c["slug"] == "g25")
    assert g25["id"] == str(group_site["g25"].id)
    assert g25["current_created"] == "2024-05-02T08:00:00+00:00"


def test_update_single_community(running_app, community_factory, search_clear):
    """Only an earlier date is written, in the database and the index."""
    community = community_factory(
        "solo", custom_fields={"kcr:commons_group_id": "7"}, created=COMMUNITY_CREATED
    )
    helper = CommunitiesHelper()
    assert helper.update_single_community_created_date(str(community.id), arrow.get("2011-02-03"))
    assert community_db_created(community.id) == utc("2011-02-03T00:00:00Z")
    assert community_indexed_created(community.id) == utc("2011-02-03T00:00:00Z")
    assert not helper.update_single_community_created_date(
        str(community.id), arrow.get("2012-01-01")
    )
    assert community_db_created(community.id) == utc("2011-02-03T00:00:00Z")


def _count_searches(run) -> int:
    """How many search requests (search, scroll, count) ``run()`` sends."""
    transport = current_search_client.transport
    calls = []
    original = transport.perform_request

    def counting(method, url, *args, **kwargs):
        calls.append(url)
        return original(method, url, *args, **kwargs)

    transport.perform_request = counting
    try:
        run()
    finally:
        transport.perform_request = original
    return len([url for url in calls if "_search" in url or "_count" in url])


def test_community_half_uses_a_constant_number_of_searches(
    group_site, community_factory, legacy_record, search_clear
):
    """Searches do not grow with the number of communities (no search per community).

    Both runs write one batch (default size 100), which costs one document fetch.
    """
    helper = CommunitiesHelper()
    before = _count_searches(helper.update_community_created_dates)
    for number in range(6):
        group_id = f"extra-{number}"
        community_factory(
            group_id, custom_fields={"kcr:commons_group_id": group_id}, created=COMMUNITY_CREATED
        )
        legacy_record(f"200{number}-01-01", groups=[group_id])
    stats = {}
    after = _count_searches(lambda: stats.update(helper.update_community_created_dates()))
    assert stats["total_found"] == 7 + 6
    assert stats["updated"] == 6
    assert after == before


def test_record_date_filter_does_not_limit_community_dates(group_site, search_clear):
    """A records run limited to some days leaves the communities' oldest dates whole."""
    records = RecordsHelper().update_record_created_dates(
        start_date="2000-01-01", end_date="2000-01-02"
    )
    assert records["total_found"] == 0
    stats = CommunitiesHelper().update_community_created_dates()
    assert stats["updated"] == 4
    for slug, community in group_site.items():
        assert community_db_created(community.id) == utc(EXPECTED[slug]), slug
