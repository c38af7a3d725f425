"""Brute-force expectations: every document of the six records aggregations, day by day.

Works only from the fixture truth (records and membership history: by default
``SITE_RECORDS`` and ``HISTORY``; vocabulary titles) and the data model's rules, one record
and one day at a time; shares no code with the aggregation engine.
"""

from datetime import date, timedelta

from invenio_search import current_search_client
from opensearchpy.helpers import scan

from invenio_stats_dashboard.aggregations.registry import get_aggregator
from invenio_stats_dashboard.demo.vocabularies import (
    AFFILIATIONS,
    FUNDERS,
    LANGUAGES,
    LICENSES,
    RESOURCE_TYPES,
    SUBJECTS,
)

from .conftest import EARLIEST, HISTORY, RUN_END, SITE_RECORDS

KINDS = {
    "resource_types": "all",
    "access_statuses": "all",
    "file_types": "all",
    "languages": "top",
    "subjects": "top",
    "rights": "top",
    "funders": "top",
    "periodicals": "top",
    "publishers": "top",
    "affiliations": "top",
}
TOP = 2
LABELS = {
    "resource_types": {i: t for i, t, _ in RESOURCE_TYPES},
    "languages": dict(LANGUAGES),
    "subjects": {i: s for i, _, s in SUBJECTS},
    "rights": dict(LICENSES),
    "funders": {i: n for i, n, _ in FUNDERS},
    "affiliations": dict(AFFILIATIONS),
}


def published_day(value: str) -> date:
    parts = value.split("-")
    return date(
        int(parts[0]),
        int(parts[1]) if len(parts) > 1 else 1,
        int(parts[2]) if len(parts) > 2 else 1,
    )


class Truth:
    """Per-record facts and membership, straight from the fixture description."""

    def __init__(self, site, history=HISTORY, records=SITE_RECORDS, earliest=EARLIEST):
        self.site = site
        self.history = history
        self.records = {r.key: r for r in records}
        self.earliest = earliest
        self._membership = {}

    # ---- facts
    def parent(self, key):
        return str(self.site.records[key].parent.id)

    def owner(self, key):
        return self.site.owners[self.records[key].owner]

    def split(self, key):
        return "with_files" if self.records[key].files else "metadata_only"

    def files(self, key, ext=None):
        files = self.records[key].files
        chosen = [s for k, s in files.items() if ext is None or k.rsplit(".", 1)[1] == ext]
        return len(chosen), sum(chosen)

    def values(self, key, subcount):
        r = self.records[key]
        return {
            "resource_types": [r.resource_type],
            "access_statuses": ["open" if r.files else "metadata-only"],
            "file_types": sorted({k.rsplit(".", 1)[1] for k in r.files}),
            "languages": list(r.languages),
            "subjects": list(r.subjects),
            "rights": list(r.rights),
            "funders": list(r.funders),
            "periodicals": [r.journal] if r.journal else [],
            "publishers": [r.publisher],
            "affiliations": list(r.affiliations),
        }[subcount]

    def label(self, subcount, value):
        return LABELS.get(subcount, {}).get(value, value)

    # ---- membership
    def membership(self, key, community) -> tuple[list, date | None]:
        """The record's events in a community (by day) and its first day as a member.

        Membership is by day: a member on a day when its last event up to that day is
        "added"; a record added and removed on the same day was a member on no day.
        """
        if (key, community) not in self._membership:
            events = sorted((d, e) for r, c, e, d in self.history if r == key and c == community)
            days = [d for d, _ in events if self.member_on(events, d)]
            self._membership[key, community] = (events, min(days) if days else None)
        return self._membership[key, community]

    @staticmethod
    def member_on(events, day) -> bool:
        member = False
        for d, e in events:
            if d <= day:
                member = e == "added"
        return member

    def counted(self, key, community, basis, day) -> bool:
        if day < self.earliest:
            return False
        events, first_added = self.membership(key, community)
        if first_added is None:
            return False
        member = self.member_on(events, day)
        record = self.records[key]
        if basis == "created":
            start = record.created
        elif basis == "published":
            start = published_day(record.publication_date)
        else:
            start = record.created if community == "global" else first_added
        return day >= start and (member or day < first_added)

    def members(self, community, basis, day) -> list[str]:
        return [k for k in self.records if self.counted(k, community, basis, day)]

    def series_start(self, community, basis, end) -> date | None:
        day = self.earliest
        while day <= end:
            if self.members(community, basis, day):
                return day
            day += timedelta(days=1)
        return None


def _split():
    return {"metadata_only": 0, "with_files": 0}


def _rank(items, weight, kind):
    ordered = sorted(items.values(), key=lambda i: (-weight(i), i["id"]))
    return ordered[:TOP] if kind == "top" else ordered


def expected_delta(truth: Truth, community, basis, day) -> dict:
    before = set(truth.members(community, basis, day - timedelta(days=1)))
    now = set(truth.members(community, basis, day))
    moves = {"added": sorted(now - before), "removed": sorted(before - now)}
    doc = {
        "records": {"added": _split(), "removed": _split()},
        "parents": {"added": _split(), "removed": _split()},
        "files": {d: {"file_count": 0, "data_volume": 0} for d in ("added", "removed")},
        "uploaders": len({truth.owner(k) for k in moves["added"]}),
        "subcounts": {},
    }
    for direction, keys in moves.items():
        for split in ("metadata_only", "with_files"):
            chosen = [k for k in keys if truth.split(k) == split]
            doc["records"][direction][split] = len(chosen)
            doc["parents"][direction][split] = len({truth.parent(k) for k in chosen})
        doc["files"][direction]["file_count"] = sum(truth.files(k)[0] for k in keys)
        doc["files"][direction]["data_volume"] = sum(truth.files(k)[1] for k in keys)
    for subcount, kind in KINDS.items():
        items = {}
        for keys in moves.values():
            for k in keys:
                for value in truth.values(k, subcount):
                    items.setdefault(
                        value,
                        {
                            "id": value,
                            "label": truth.label(subcount, value),
                            "records": {"added": _split(), "removed": _split()},
                            "parents": {"added": _split(), "removed": _split()},
                            "files": {
                                d: {"file_count": 0, "data_volume": 0} for d in ("added", "removed")
                            },
                        },
                    )
        for value, item in items.items():
            for direction, keys in moves.items():
                carrying = [k for k in keys if value in truth.values(k, subcount)]
                for split in ("metadata_only", "with_files"):
                    chosen = [k for k in carrying if truth.split(k) == split]
                    item["records"][direction][split] = len(chosen)
                    item["parents"][direction][split] = len({truth.parent(k) for k in chosen})
                ext = value if subcount == "file_types" else None
                item["files"][direction]["file_count"] = sum(
                    truth.files(k, ext)[0] for k in carrying
                )
                item["files"][direction]["data_volume"] = sum(
                    truth.files(k, ext)[1] for k in carrying
                )
        doc["subcounts"][subcount] = _rank(
            items,
            lambda i: sum(i["records"]["added"].values()) + sum(i["records"]["removed"].values()),
            kind,
        )
    return doc


def expected_snapshot(truth: Truth, community, basis, day) -> dict:
    members = truth.members(community, basis, day)

    def metrics(keys, ext=None):
        return {
            "records": {
                s: len([k for k in keys if truth.split(k) == s])
                for s in ("metadata_only", "with_files")
            },
            "parents": {
                s: len({truth.parent(k) for k in keys if truth.split(k) == s})
                for s in ("metadata_only", "with_files")
            },
            "files": {
                "file_count": sum(truth.files(k, ext)[0] for k in keys),
                "data_volume": sum(truth.files(k, ext)[1] for k in keys),
            },
        }

    total = metrics(members)
    doc = {
        "total_records": total["records"],
        "total_parents": total["parents"],
        "total_files": total["files"],
        "total_uploaders": len({truth.owner(k) for k in members}),
        "subcounts": {},
    }
    for subcount, kind in KINDS.items():
        items = {}
        for value in {v for k in members for v in truth.values(k, subcount)}:
            carrying = [k for k in members if value in truth.values(k, subcount)]
            ext = value if subcount == "file_types" else None
            items[value] = {
                "id": value,
                "label": truth.label(subcount, value),
                **metrics(carrying, ext),
            }
        doc["subcounts"][subcount] = _rank(items, lambda i: sum(i["records"].values()), kind)
    return doc


def expected_documents(truth: Truth, community, kind, basis, end) -> dict[date, dict]:
    """Every expected document (without timestamps and ids) from the series start to ``end``."""
    start = truth.series_start(community, basis, end)
    docs = {}
    if start is None:
        return docs
    day = start
    while day <= end:
        if kind == "delta":
            body = expected_delta(truth, community, basis, day)
            body["period_start"] = f"{day.isoformat()}T00:00:00"
            body["period_end"] = f"{day.isoformat()}T23:59:59"
        else:
            body = expected_snapshot(truth, community, basis, day)
            body["snapshot_date"] = day.isoformat()
        docs[day] = body
        day += timedelta(days=1)
    return docs


COMMUNITIES = ("A", "B", "C", "global")
RECORD_AGGREGATIONS = [
    (kind, basis) for kind in ("delta", "snapshot") for basis in ("created", "published", "added")
]


def stored(aggregator, community_id) -> dict[date, dict]:
    """Every stored document of one community, by day, without write timestamps."""
    current_search_client.indices.refresh(index=aggregator.alias)
    docs = {}
    for hit in scan(
        current_search_client,
        index=aggregator.alias,
        query={"query": {"term": {"community_id": community_id}}},
    ):
        source = dict(hit["_source"])
        for key in ("timestamp", "updated_timestamp"):
            assert source.pop(key)
        assert source.pop("community_id") == community_id
        day = date.fromisoformat((source.get("snapshot_date") or source["period_start"])[:10])
        assert hit["_id"] == f"{community_id}-{day.isoformat()}"
        assert hit["_index"].endswith(f"-{day.year}")
        docs[day] = source
    return docs


def assert_matches(site, truth, end=RUN_END, communities=COMMUNITIES):
    for kind, basis in RECORD_AGGREGATIONS:
        aggregator = get_aggregator(f"community-records-{kind}-{basis}")
        for name in communities:
            community_id = site.community_id(name)
            expected = expected_documents(truth, name, kind, basis, end)
            actual = stored(aggregator, community_id)
            assert sorted(actual) == sorted(expected), (
                kind,
                basis,
                name,
                sorted(set(actual) ^ set(expected)),
            )
            for day, body in expected.items():
                where = (kind, basis, name, day)
                for key, value in body["subcounts"].items():
                    assert actual[day]["subcounts"][key] == value, (*where, key)
                assert actual[day] == body, where


def delete_after(community_id, day):
    """Remove a community's documents dated after ``day`` from the records aggregations."""
    for kind, basis in RECORD_AGGREGATIONS:
        aggregator = get_aggregator(f"community-records-{kind}-{basis}")
        current_search_client.delete_by_query(
            index=aggregator.alias,
            body={
                "query": {
                    "bool": {
                        "filter": [
                            {"term": {"community_id": community_id}},
                            {"range": {aggregator.date_field: {"gt": day.isoformat()}}},
                        ]
                    }
                }
            },
            refresh=True,
        )
