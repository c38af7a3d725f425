"""A small site for COUNTER: a public and a restricted community, four records, raw
usage events over three months with COUNTER's edge cases, everything aggregated.

``RECORDS`` and ``EVENTS`` are the fixture truth; ``expected_usage`` applies COUNTER's
rules to them by brute force (its own code, not the package's).
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
from invenio_search import current_search_client
from invenio_search.engine import search as search_engine

from invenio_stats_dashboard.aggregations.service import run_aggregations
from invenio_stats_dashboard.core.indices import raw_index
from invenio_stats_dashboard.demo import factories
from invenio_stats_dashboard.membership.service import generate_community_events
from invenio_stats_dashboard.usage_events.migration import MigrationOptions, migrate
from invenio_stats_dashboard.usage_events.synthetic import RecordTarget, raw_event

from ..permissions_site import users_and_communities

END = date(2024, 3, 31)
ORCID = "0000-0002-1825-0097"


@dataclass(frozen=True)
class Spec:
    key: str
    resource_type: str
    communities: tuple[str, ...]
    files: dict
    journal: dict | None = None


RECORDS = [
    Spec("data", "dataset", ("open",), {"a.csv": 100, "b.csv": 50}),
    Spec(
        "paper",
        "publication-article",
        ("open", "closed"),
        {"paper.pdf": 300},
        {"title": "Journal of Tests", "issn": "1234-5679"},
    ),
    Spec("photo", "image-photo", ("closed",), {"p.jpg": 1000}),
    Spec("book", "publication-book", ("open",), {}),
]
DATA_TYPES = {"data": "Dataset", "paper": "Article", "photo": "Image", "book": "Other"}


@dataclass(frozen=True)
class Event:
    record: str
    moment: str
    visitor: int
    file: str | None = None
    robot: bool = False
    machine: bool = False


EVENTS = [
    # a double click 29 s apart (one counts), then one 31 s after it (counts again)
    Event("data", "2024-01-10T10:00:00", 1),
    Event("data", "2024-01-10T10:00:29", 1),
    Event("data", "2024-01-10T10:01:00", 1),
    # downloads 31 s apart both count; another file of the item counts on its own
    Event("data", "2024-01-10T11:00:00", 2, "a.csv"),
    Event("data", "2024-01-10T11:00:31", 2, "a.csv"),
    Event("data", "2024-01-10T11:00:40", 2, "b.csv"),
    # a robot is never counted
    Event("data", "2024-01-12T09:00:00", 3, robot=True),
    Event("data", "2024-01-12T09:00:10", 3, "a.csv", robot=True),
    # the article: views in two sessions of one visitor (different hours), a download
    Event("paper", "2024-01-15T08:00:00", 4),
    Event("paper", "2024-01-15T09:10:00", 4),
    Event("paper", "2024-01-15T09:10:20", 4, "paper.pdf"),
    # across midnight: new day, new session (invenio-stats' sessions are hour-bound)
    Event("paper", "2024-01-31T23:59:50", 5),
    Event("paper", "2024-02-01T00:00:10", 5),
    # a machine (text and data mining): views and downloads, a double-clicked download
    Event("paper", "2024-02-05T12:00:00", 6, machine=True),
    Event("paper", "2024-02-05T12:00:15", 6, "paper.pdf", machine=True),
    Event("paper", "2024-02-05T12:00:40", 6, "paper.pdf", machine=True),
    # two sessions on the photo in one hour; one of them downloads twice (double click)
    Event("photo", "2024-03-03T14:00:00", 7),
    Event("photo", "2024-03-03T14:05:00", 8),
    Event("photo", "2024-03-03T14:06:00", 8, "p.jpg"),
    Event("photo", "2024-03-03T14:06:25", 8, "p.jpg"),
    Event("book", "2024-03-20T16:30:00", 9),
]


def _session(event: Event) -> tuple:
    moment = datetime.fromisoformat(event.moment)
    return event.visitor, moment.date(), moment.hour


def expected_usage() -> dict[tuple, dict[str, int]]:
    """``(community, record, access method, month) -> metric -> n`` by COUNTER's rules.

    Communities are "global", "open" and "closed" (the fixture's names).
    """
    counted = [e for e in EVENTS if not e.robot]
    kept = []
    for event in counted:
        moment = datetime.fromisoformat(event.moment)
        later = [
            other
            for other in counted
            if other is not event
            and _session(other) == _session(event)
            and other.record == event.record
            and other.file == event.file
            and moment < datetime.fromisoformat(other.moment) <= moment + timedelta(seconds=30)
        ]
        if not later:
            kept.append(event)
    spec = {s.key: s for s in RECORDS}
    out: dict = defaultdict(lambda: defaultdict(int))
    sessions: dict = defaultdict(set)
    for event in counted:
        method = "TDM" if event.machine else "Regular"
        month = event.moment[:7]
        for community in ("global", *spec[event.record].communities):
            key = (community, event.record, method, month)
            sessions[(key, "inv")].add(_session(event))
            if event.file:
                sessions[(key, "req")].add(_session(event))
    for event in kept:
        method = "TDM" if event.machine else "Regular"
        for community in ("global", *spec[event.record].communities):
            key = (community, event.record, method, event.moment[:7])
            out[key]["Total_Item_Investigations"] += 1
            if event.file:
                out[key]["Total_Item_Requests"] += 1
    for (key, kind), found in sessions.items():
        name = "Unique_Item_Investigations" if kind == "inv" else "Unique_Item_Requests"
        out[key][name] = len(found)
    return {key: dict(values) for key, values in out.items()}


@dataclass
class CounterSite:
    communities: dict[str, str]
    slugs: dict[str, str]
    records: dict
    titles: dict[str, str]
    users: dict


@pytest.fixture(scope="module")
def app_config(app_config):
    from invenio_rdm_records.contrib.journal.custom_fields import (
        JOURNAL_CUSTOM_FIELDS,
        JOURNAL_NAMESPACE,
    )

    app_config.update(
        # the journal field: an article's parent (its ISSN) in IR and IR_A1
        RDM_NAMESPACES={**app_config["RDM_NAMESPACES"], **JOURNAL_NAMESPACE},
        RDM_CUSTOM_FIELDS=[*app_config["RDM_CUSTOM_FIELDS"], *JOURNAL_CUSTOM_FIELDS],
        COMMUNITY_STATS_EARLIEST_DATE="2023-12-01",
        COMMUNITY_STATS_TRACK_MEMBERSHIP=False,
        COMMUNITY_STATS_RECONCILE_BEFORE_AGGREGATION=False,
        COMMUNITY_STATS_CACHE_WARM_AFTER_AGGREGATION=False,
        COMMUNITY_STATS_COUNTER_PLATFORM="Test Repository",
        COMMUNITY_STATS_COUNTER_PLATFORM_ID="testrepo",
        COMMUNITY_STATS_COUNTER_CUSTOMERS={
            "library-1": {
                "name": "Library One",
                "api_key": "secret-key",
                "requestor_ids": ["harvester-1"],
                "communities": ["counter-closed"],
            }
        },
    )
    return app_config


@pytest.fixture(scope="module")
def counter_site(running_app, database, UserFixture):
    """Built once: users, communities, records, history, raw events, aggregation."""
    app = running_app.app
    users, communities = users_and_communities(app, database, UserFixture, "counter")
    owner = users["owner"].identity
    records, titles = {}, {}
    for spec in RECORDS:
        titles[spec.key] = f"The {spec.key} record"
        metadata = factories.default_metadata(
            titles[spec.key], resource_type={"id": spec.resource_type}
        )
        if spec.key == "paper":
            metadata["creators"] = [
                {
                    "person_or_org": {
                        "type": "personal",
                        "family_name": "Doe",
                        "given_name": "Jane",
                        "identifiers": [{"scheme": "orcid", "identifier": ORCID}],
                    }
                }
            ]
        records[spec.key] = factories.publish_record(
            owner,
            factories.RecordSpec(
                metadata=metadata,
                files=spec.files,
                communities=[communities[c] for c in spec.communities],
                custom_fields={"journal:journal": spec.journal} if spec.journal else {},
                created="2023-12-05T09:00:00",
            ),
        )
    generate_community_events()
    actions = []
    for event in EVENTS:
        target = RecordTarget.from_record(records[event.record])
        file = next(f for f in target.files if f[1] == event.file) if event.file else None
        _id, doc = raw_event(
            target,
            datetime.fromisoformat(event.moment),
            visitor=event.visitor,
            file=file,
            is_robot=event.robot,
            is_machine=event.machine,
        )
        doc["updated_timestamp"] = event.moment  # indexed when it happened, long ago
        name = "download" if event.file else "view"
        actions.append({"_index": raw_index(name, event.moment[:7]), "_id": _id, "_source": doc})
    search_engine.helpers.bulk(current_search_client, actions, refresh=True)
    migrate(MigrationOptions())
    run_aggregations(end=END)
    return CounterSite(
        communities={name: str(c.id) for name, c in communities.items()},
        slugs={name: c["slug"] for name, c in communities.items()},
        records=records,
        titles=titles,
        users=users,
    )
