"""A small site built once per module: communities, versioned records with and without files,
several owners, and a membership history with additions, removals, a deletion, a restore.

``SITE_RECORDS`` and ``HISTORY`` are the fixture truth; ``expected.py`` computes the
expected documents from them by brute force, independently of the aggregation code.
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from io import BytesIO

import pytest
from invenio_access.permissions import system_identity
from invenio_rdm_records.proxies import current_rdm_records_service
from invenio_rdm_records.records.api import RDMRecord
from invenio_search import current_search_client

from invenio_stats_dashboard.core.indices import refresh_record_classes
from invenio_stats_dashboard.demo import factories

RUN_END = date(2024, 1, 20)
EARLIEST = date(2023, 6, 1)


@pytest.fixture(scope="module")
def app_config(app_config):
    """Fold old publication dates onto 2023-06-01 and keep two values in "top" subcounts."""
    from invenio_rdm_records.contrib.journal.custom_fields import (
        JOURNAL_CUSTOM_FIELDS,
        JOURNAL_NAMESPACE,
    )

    app_config.update(
        # the journal field (periodicals subcount), as Knowledge Commons Works has it
        RDM_NAMESPACES={**app_config["RDM_NAMESPACES"], **JOURNAL_NAMESPACE},
        RDM_CUSTOM_FIELDS=[*app_config["RDM_CUSTOM_FIELDS"], *JOURNAL_CUSTOM_FIELDS],
        COMMUNITY_STATS_EARLIEST_DATE=EARLIEST.isoformat(),
        COMMUNITY_STATS_TOP_SUBCOUNT_LIMIT=2,
        COMMUNITY_STATS_CATCHUP_INTERVAL=365,
        # the records are created just before the runs: no margin for indexing lag
        COMMUNITY_STATS_RECORDS_EDIT_MARGIN=0,
        # the membership history is fixture data here: no live tracking, no reconciliation
        COMMUNITY_STATS_TRACK_MEMBERSHIP=False,
        COMMUNITY_STATS_RECONCILE_BEFORE_AGGREGATION=False,
    )
    return app_config


@dataclass
class SiteRecord:
    """Fixture truth of one record (one published version)."""

    key: str
    owner: int
    created: date
    publication_date: str
    files: dict = field(default_factory=dict)
    resource_type: str = "publication-article"
    languages: tuple = ("eng",)
    subjects: tuple = ()
    rights: tuple = ()
    funders: tuple = ()
    publisher: str = "Acme Inc"
    affiliations: tuple = ("01ggx4157",)
    journal: str | None = None
    version_of: str | None = None
    deleted: bool = False


SITE_RECORDS = [
    SiteRecord(
        "r1",
        0,
        date(2024, 1, 3),
        "2023",
        {"a.pdf": 100, "b.csv": 50},
        languages=("eng", "fra"),
        subjects=("http://id.worldcat.org/fast/1108176",),
        rights=("cc-by-4.0",),
        funders=("00k4n6c32",),
        journal="Journal of Tests",
    ),
    SiteRecord(
        "r2",
        1,
        date(2024, 1, 5),
        "2024-01-05",
        resource_type="dataset",
        languages=("spa",),
        publisher="Other Press",
        affiliations=("05hs6h993",),
    ),
    SiteRecord(
        "r3",
        0,
        date(2024, 1, 12),
        "2024-01-12",
        {"a.pdf": 100, "b.csv": 50, "g.pdf": 70},
        languages=("eng", "fra"),
        subjects=("http://id.worldcat.org/fast/1108176",),
        rights=("cc-by-4.0",),
        funders=("00k4n6c32",),
        journal="Journal of Tests",
        version_of="r1",
    ),
    SiteRecord(
        "r4",
        2,
        date(2024, 1, 4),
        "2024-01",
        {"c.pdf": 200},
        resource_type="software",
        languages=("deu",),
        subjects=("http://id.worldcat.org/fast/958235",),
        rights=("mit",),
        funders=("021nxhr62",),
        affiliations=("01ggx4157", "05hs6h993"),
    ),
    SiteRecord("r5", 0, date(2024, 1, 6), "2024-01-06"),
    SiteRecord(
        "r6",
        1,
        date(2024, 1, 2),
        "2022-03-04",
        {"d.txt": 10, "e.pdf": 5},
        resource_type="image-photo",
        languages=("fra", "spa"),
        journal="Another Journal",
    ),
    SiteRecord("r7", 2, date(2024, 1, 7), "2024-01-07", {"h.pdf": 300}, deleted=True),
]

# (record, community, event, day); "global" additions use the created day.
HISTORY = [
    ("r6", "A", "added", date(2024, 1, 2)),
    ("r1", "A", "added", date(2024, 1, 10)),
    ("r1", "A", "removed", date(2024, 1, 15)),
    ("r1", "A", "added", date(2024, 1, 18)),
    ("r3", "A", "added", date(2024, 1, 12)),
    ("r2", "A", "added", date(2024, 1, 5)),
    ("r2", "B", "added", date(2024, 1, 7)),
    ("r2", "B", "removed", date(2024, 1, 9)),
    ("r4", "B", "added", date(2024, 1, 4)),
    ("r4", "C", "added", date(2024, 1, 8)),
    ("r5", "C", "added", date(2024, 1, 6)),
    ("r5", "C", "removed", date(2024, 1, 12)),  # deleted
    ("r5", "C", "added", date(2024, 1, 14)),  # restored
    ("r5", "global", "removed", date(2024, 1, 12)),
    ("r5", "global", "added", date(2024, 1, 14)),
    ("r7", "C", "added", date(2024, 1, 7)),
    ("r7", "C", "removed", date(2024, 1, 11)),  # deleted for good
    ("r7", "global", "removed", date(2024, 1, 11)),
    *[(r.key, "global", "added", r.created) for r in SITE_RECORDS],
]


@dataclass
class Site:
    """What the fixture built: ids of communities, records and owners."""

    communities: dict  # "A" -> community UUID
    slugs: dict  # "A" -> slug
    records: dict  # "r1" -> RDMRecord
    owners: list  # user ids (str)
    truth: list = field(default_factory=lambda: SITE_RECORDS)

    def community_id(self, name: str) -> str:
        return "global" if name == "global" else self.communities[name]

    def record_id(self, key: str) -> str:
        return str(self.records[key].id)


def _metadata(spec: SiteRecord) -> dict:
    metadata = factories.default_metadata(
        title=f"Record {spec.key}",
        publication_date=spec.publication_date,
        publisher=spec.publisher,
        resource_type={"id": spec.resource_type},
        languages=[{"id": lang} for lang in spec.languages],
    )
    metadata["creators"][0]["affiliations"] = [{"id": a} for a in spec.affiliations]
    if spec.subjects:
        metadata["subjects"] = [{"id": s} for s in spec.subjects]
    if spec.rights:
        metadata["rights"] = [{"id": r} for r in spec.rights]
    if spec.funders:
        metadata["funding"] = [{"funder": {"id": f}} for f in spec.funders]
    return metadata


def _new_version(identity, previous, spec: SiteRecord):
    service = current_rdm_records_service
    draft = service.new_version(identity, previous["id"])
    service.import_files(identity, draft.id)
    data = draft.to_dict()
    data["metadata"] = _metadata(spec)
    service.update_draft(identity, draft.id, data)
    for key, size in spec.files.items():
        if key in previous.files.entries:
            continue
        service.draft_files.init_files(identity, draft.id, [{"key": key}])
        service.draft_files.set_file_content(
            identity, draft.id, key, BytesIO(b"x" * size), content_length=size
        )
        service.draft_files.commit_file(identity, draft.id, key)
    record = service.publish(identity, draft.id)._record
    factories.set_created(record, spec.created.isoformat())
    return record


def history_events(site: Site, history=HISTORY) -> list[dict]:
    """Membership events in the data model's shape, for the fixture history."""
    created = {r.key: r.created for r in SITE_RECORDS}
    published = {r.key: r.publication_date for r in SITE_RECORDS}
    deleted = {r.key for r in SITE_RECORDS if r.deleted}
    deleted_on = {rec: day for rec, _c, ev, day in history if rec in deleted and ev == "removed"}
    events = []
    for position, (rec, community, event_type, day) in enumerate(history):
        pub = published[rec]
        pub_day = date.fromisoformat((pub + "-01-01")[:10] if len(pub) == 4 else (pub + "-01")[:10])
        events.append(
            {
                "record_id": site.record_id(rec),
                "community_id": site.community_id(community),
                "event_type": event_type,
                "event_date": f"{day.isoformat()}T10:00:00",
                "record_created_date": f"{created[rec].isoformat()}T09:00:00",
                "record_published_date": pub_day.isoformat(),
                "is_deleted": rec in deleted,
                "deleted_date": deleted_on[rec].isoformat() if rec in deleted else None,
                "timestamp": f"2024-02-01T00:00:{position:02d}",
                "updated_timestamp": "2024-02-01T00:00:00",
            }
        )
    return events


def reset_stats_indices() -> None:
    """Drop this package's indices left by an earlier test module (history, stats, bookmarks)."""
    from invenio_stats_dashboard.core.indices import prefixed

    for pattern in ("stats-community-*", "stats-bookmarks-community-*"):
        current_search_client.indices.delete(
            index=prefixed(pattern), ignore=[404], expand_wildcards="all"
        )


def write_history(site: Site, history=HISTORY) -> None:
    """Bulk the fixture history into ``stats-community-events-YYYY``."""
    from opensearchpy.helpers import bulk

    from invenio_stats_dashboard.core.indices import prefixed

    actions = []
    for position, event in enumerate(history_events(site, history)):
        actions.append(
            {
                "_index": prefixed(f"stats-community-events-{event['event_date'][:4]}"),
                "_id": f"fixture-{position}",
                "_source": event,
            }
        )
    reset_stats_indices()
    bulk(current_search_client, actions, refresh=True)


@pytest.fixture(scope="module")
def site_data(running_app, database, UserFixture):
    """Communities, owners and published records, committed for real (module scope)."""
    app = running_app.app
    users = []
    for number in range(3):
        user = UserFixture(
            email=f"agg-owner{number}@example.org",
            password="password",
            active=True,
            confirmed=True,
        )
        user.create(app, database)
        users.append(user)
    communities, slugs = {}, {}
    for name in ("A", "B", "C"):
        slug = f"agg-community-{name.lower()}"
        item = factories.create_community(users[0].identity, slug)
        communities[name] = str(item.id)
        slugs[name] = slug
    records = {}
    for spec in SITE_RECORDS:
        identity = users[spec.owner].identity
        if spec.version_of:
            records[spec.key] = _new_version(identity, records[spec.version_of], spec)
            continue
        records[spec.key] = factories.publish_record(
            identity,
            factories.RecordSpec(
                metadata=_metadata(spec),
                files=spec.files,
                created=spec.created.isoformat(),
                custom_fields={"journal:journal": {"title": spec.journal}} if spec.journal else {},
            ),
        )
    service = current_rdm_records_service
    for spec in SITE_RECORDS:
        if spec.key == "r5":  # deleted and restored
            service.delete_record(
                system_identity, records["r5"]["id"], {"removal_reason": {"id": "spam"}}
            )
            service.restore_record(system_identity, records["r5"]["id"])
        if spec.deleted:
            service.delete_record(
                system_identity, records[spec.key]["id"], {"removal_reason": {"id": "spam"}}
            )
    refresh_record_classes(RDMRecord)
    site = Site(
        communities=communities,
        slugs=slugs,
        records=records,
        owners=[str(u.id) for u in users],
    )
    return site


@pytest.fixture(scope="module")
def site(site_data):
    """The site with its membership history written."""
    write_history(site_data)
    return site_data


def now_utc() -> datetime:
    return datetime.now(UTC)
