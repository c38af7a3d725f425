"""Build the demo site: communities, records, legacy dates and membership changes.

Everything goes through the real services (see ``factories``), so the product's commands
see exactly what they would see on a live InvenioRDM. The site is deterministic for a
given seed and "today": every random draw comes from one seeded generator, no two records
share a creation moment (so whatever reads them in creation order reads them in one order)
and no choice depends on a random identifier such as a UUID.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from invenio_access.permissions import system_identity
from invenio_rdm_records.proxies import current_rdm_records_service
from invenio_rdm_records.proxies import (
    current_record_communities_service as record_communities_service,
)

from ..core.days import utc_now, utc_today
from ..membership.sync import membership_clock
from . import factories
from .vocabularies import AFFILIATIONS, FUNDERS, LANGUAGES, LICENSES, RESOURCE_TYPES, SUBJECTS

COMMUNITY_NAMES = [
    "Digital Humanities",
    "History of Science",
    "Medieval Studies",
    "Open Linguistics",
    "Music Theory",
    "Environmental Humanities",
    "Computational Biology",
    "Urban Studies",
    "Archaeology Data",
    "Philosophy of Mind",
    "Film and Media",
    "Public Health Archive",
    "Digital Pedagogy",
    "Classics Commons",
]
PUBLISHERS = ["Knowledge Commons", "Acme University Press", "Open Book Publishers", "Zenodo"]
FILE_KINDS = [("pdf", 180_000), ("csv", 60_000), ("txt", 8_000), ("png", 120_000)]
# Legacy values seen in real migrated data, and the broken ones the repair must report.
BAD_LEGACY_VALUES = ["", "03/08/2017", "2017/2018", "2017-02-30", "0000-00-00 00:00:00"]


@dataclass
class DemoSiteConfig:
    """How big the demo site is."""

    communities: int = 12
    migrated_communities: int = 5
    records: int = 200
    history_days: int = 240
    files_share: float = 0.5
    seed: int = 20261123
    today: date = field(default_factory=utc_today)


@dataclass(frozen=True)
class MembershipOperation:
    """One service call that changed a record's membership, and when it returned."""

    record_id: str
    action: str
    """One of "published" (into ``community_ids``), "added", "removed", "deleted"."""
    moment: datetime
    """Naive UTC: the replay clock live tracking dated the change with (real time for
    the deletion, which InvenioRDM dates itself)."""
    community_ids: tuple[str, ...] = ()


@dataclass
class DemoSite:
    """What was built, for the summary and for tests."""

    communities: list = field(default_factory=list)
    migrated_group_ids: dict[str, str] = field(default_factory=dict)
    records: list = field(default_factory=list)
    added: list[tuple[str, str]] = field(default_factory=list)
    removed: list[tuple[str, str]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    legacy_errors: int = 0
    specs: dict[str, factories.RecordSpec] = field(default_factory=dict)
    """Record PID value -> what was asked to be published (metadata, files, dates)."""
    operations: list[MembershipOperation] = field(default_factory=list)
    """Membership changes in the order they were made."""

    def summary(self) -> dict[str, int]:
        """Counts to print at the end of the build."""
        return {
            "communities": len(self.communities),
            "migrated communities": len(self.migrated_group_ids),
            "records": len(self.records),
            "records with files": sum(1 for r in self.records if r.files.enabled),
            "later additions": len(self.added),
            "removals": len(self.removed),
            "deletions": len(self.deleted),
            "unparseable legacy dates": self.legacy_errors,
        }


def _moment_between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A random moment (whole minutes) in ``[start, end]``."""
    minutes = max(int((end - start).total_seconds() // 60), 0)
    return (start + timedelta(minutes=rng.randint(0, minutes))).replace(second=0, microsecond=0)


def _legacy_value(rng: random.Random, moment: datetime, index: int) -> str:
    """A legacy creation date in one of the formats found in migrated data."""
    formats = [
        lambda m: m.strftime("%Y-%m-%dT%H:%M:%SZ"),
        lambda m: m.strftime("%Y-%m-%dT%H:%M:%SZ"),
        lambda m: m.strftime("%Y-%m-%dT%H:%M:%SZ"),
        lambda m: m.strftime("%Y-%m-%d"),
        lambda m: m.strftime("%Y-%m-%dT%H:%M:%S"),
        lambda m: (m + timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%S+05:00"),
    ]
    return rng.choice(formats)(moment)


def _metadata(rng: random.Random, title: str, published: date) -> dict:
    metadata = factories.default_metadata(
        title,
        resource_type={"id": rng.choice(RESOURCE_TYPES)[0]},
        languages=[{"id": rng.choice(LANGUAGES)[0]}],
        publisher=rng.choice(PUBLISHERS),
        publication_date=published.isoformat()
        if rng.random() < 0.7
        else published.strftime("%Y-%m"),
        rights=[{"id": rng.choice(LICENSES)[0]}],
        subjects=[{"id": rng.choice(SUBJECTS)[0]}],
    )
    metadata["creators"][0]["affiliations"] = [{"id": rng.choice(AFFILIATIONS)[0]}]
    if rng.random() < 0.3:
        metadata["funding"] = [{"funder": {"id": rng.choice(FUNDERS)[0]}}]
    return metadata


def build_demo_site(
    config: DemoSiteConfig | None = None, log: Callable[[str], None] | None = None
) -> DemoSite:
    """Create the demo site; ``log`` receives one line per step."""
    config = config or DemoSiteConfig()
    log = log or (lambda _msg: None)
    rng = random.Random(config.seed)
    site = DemoSite()
    identity = factories.create_user("demo@example.org")
    first_day = config.today - timedelta(days=config.history_days)
    migration_day = config.today - timedelta(days=config.history_days // 3)
    migration_moment = datetime.combine(migration_day, time(9, 30))

    log(f"communities: {config.communities} ({config.migrated_communities} migrated)")
    for index, name in enumerate(COMMUNITY_NAMES[: config.communities]):
        slug = name.lower().replace(" ", "-")
        custom_fields = None
        created = datetime.combine(first_day - timedelta(days=rng.randint(0, 60)), time(8))
        if index < config.migrated_communities:
            group_id = str(1001 + index)
            custom_fields = {
                "kcr:commons_group_id": group_id,
                "kcr:commons_group_name": name,
                "kcr:commons_instance": "hc",
            }
            site.migrated_group_ids[slug] = group_id
            created = migration_moment
        site.communities.append(
            factories.create_community(
                identity, slug, title=name, custom_fields=custom_fields, created=created
            )
        )
    migrated = site.communities[: config.migrated_communities]
    others = site.communities[config.migrated_communities :]

    log(f"records: {config.records} (through the records service, with files and dates)")
    used_moments: set[datetime] = set()
    for index in range(config.records):
        is_migrated = bool(migrated) and rng.random() < 0.4
        pool = migrated if is_migrated else (others or site.communities)
        members = rng.sample(pool, k=min(len(pool), rng.choice([1, 1, 1, 2, 3])))
        custom_fields = {}
        if is_migrated:
            true_created = datetime.combine(
                first_day - timedelta(days=rng.randint(30, 540)), time(rng.randint(0, 23), 15)
            )
            created = migration_moment
            if index % 41 == 7:
                legacy = BAD_LEGACY_VALUES[site.legacy_errors % len(BAD_LEGACY_VALUES)]
                site.legacy_errors += 1
            else:
                legacy = _legacy_value(rng, true_created, index)
            custom_fields = {
                "hclegacy:record_creation_date": legacy,
                "hclegacy:groups_for_deposit": [
                    {
                        "group_name": c.data["metadata"]["title"],
                        "group_identifier": c.data["custom_fields"]["kcr:commons_group_id"],
                    }
                    for c in members
                ],
            }
            published = true_created.date() - timedelta(days=rng.randint(0, 400))
        else:
            created = datetime.combine(
                first_day + timedelta(days=rng.randint(0, config.history_days - 1)),
                time(rng.randint(0, 23), rng.randint(0, 59)),
            )
            published = created.date() - timedelta(days=rng.randint(0, 365))
        while created in used_moments:  # the migration imported one record at a time
            created += timedelta(seconds=1)
        used_moments.add(created)
        files = {}
        if rng.random() < config.files_share:
            for n, (ext, size) in enumerate(rng.sample(FILE_KINDS, k=rng.randint(1, 3))):
                files[f"file-{n}.{ext}"] = rng.randint(size // 4, size)
        spec = factories.RecordSpec(
            metadata=_metadata(rng, f"Demo record {index + 1}", published),
            files=files,
            communities=members,
            custom_fields=custom_fields,
            created=created,
        )
        # live tracking dates the record's entry into its communities when it is
        # published, just after the record was created
        joined = created + timedelta(seconds=1)
        with membership_clock(joined):
            record = factories.publish_record(identity, spec)
        site.records.append(record)
        site.specs[record["id"]] = spec
        if (index + 1) % 50 == 0 and index + 1 < config.records:
            log(f"  {index + 1} of {config.records} records")
        site.operations.append(
            MembershipOperation(
                record["id"], "published", joined, tuple(str(c.id) for c in members)
            )
        )

    log("membership changes over time: additions, removals, a deletion")
    yesterday = datetime.combine(config.today - timedelta(days=1), time(12))

    def later_moment(record) -> datetime:
        """After the record was published, before today."""
        published_at = site.specs[record["id"]].created + timedelta(hours=1)
        return _moment_between(rng, published_at, max(published_at, yesterday))

    candidates = [r for r in site.records if len(r.parent.communities.ids) == 1]
    for record in candidates[:10]:
        target = rng.choice(
            [c for c in site.communities if str(c.id) not in record.parent.communities.ids]
        )
        moment = later_moment(record)
        with membership_clock(moment):
            record_communities_service.add(
                identity, record["id"], {"communities": [{"id": str(target.id)}]}
            )
        site.added.append((record["id"], str(target.id)))
        site.operations.append(
            MembershipOperation(record["id"], "added", moment, (str(target.id),))
        )
    removable = [r for r in site.records[10:] if len(r.parent.communities.ids) >= 2]
    slugs = {str(c.id): c.data["slug"] for c in site.communities}
    for record in removable[:2]:
        community_id = max(record.parent.communities.ids, key=slugs.__getitem__)
        moment = later_moment(record)
        with membership_clock(moment):
            record_communities_service.remove(
                system_identity, record["id"], {"communities": [{"id": community_id}]}
            )
        site.removed.append((record["id"], community_id))
        site.operations.append(
            MembershipOperation(record["id"], "removed", moment, (community_id,))
        )
    touched = {record_id for record_id, _ in site.added + site.removed}
    for record in [r for r in site.records if r["id"] not in touched][-1:]:
        current_rdm_records_service.delete_record(
            system_identity,
            record["id"],
            {"removal_reason": {"id": "spam"}, "is_visible": True, "note": "demo deletion"},
        )
        site.deleted.append(record["id"])
        site.operations.append(MembershipOperation(record["id"], "deleted", utc_now()))
    return site
