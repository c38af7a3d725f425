"""Smoke tests: the stack is real (PostgreSQL, Redis, search engine, Invenio services)."""

from invenio_access.permissions import system_identity
from invenio_communities import current_communities
from invenio_rdm_records.proxies import (
    current_community_records_service,
    current_rdm_records_service,
)
from invenio_rdm_records.records.api import RDMRecord
from invenio_search import current_search_client
from invenio_search.engine import dsl

from invenio_stats_dashboard.core.indices import record_class_alias
from invenio_stats_dashboard.demo.factories import UsageEvent, default_metadata


def test_services_are_real(app, db, search):
    """PostgreSQL, Redis and the search engine answer, and the tables and aliases exist."""
    from invenio_cache import current_cache
    from sqlalchemy import inspect

    assert db.engine.name == "postgresql"
    assert "rdm_records_metadata" in inspect(db.engine).get_table_names()
    current_cache.set("smoke", 42)
    assert current_cache.get("smoke") == 42
    assert current_search_client.ping()
    aliases = current_search_client.indices.get_alias(index="*")
    names = {a for v in aliases.values() for a in v.get("aliases", {})}
    assert record_class_alias(RDMRecord) in names


def test_community_and_records(running_app, community_factory, record_factory, search_clear):
    """Publish records into a community; find them by service and by raw aggregation."""
    community = community_factory(
        "blr", custom_fields={"kcr:commons_group_id": "1004", "kcr:commons_group_name": "BLR"}
    )
    record_factory(communities=[community], created="2019-03-04T10:00:00Z")
    record_factory(
        communities=[community],
        metadata=default_metadata("Second", resource_type={"id": "dataset"}),
        files={"data.csv": 1200, "readme.txt": 34},
        created="2019-03-05T10:00:00Z",
        custom_fields={
            "hclegacy:record_creation_date": "2012-01-02T03:04:05Z",
            "hclegacy:groups_for_deposit": [
                {"group_name": "BLR", "group_identifier": "1004"},
            ],
        },
    )
    res = current_community_records_service.search(system_identity, community_id=community.id)
    assert res.total == 2
    res = current_rdm_records_service.search(system_identity, params={"q": "Second"})
    hits = list(res)
    assert len(hits) == 1
    assert hits[0]["created"].startswith("2019-03-05T10:00:00")
    assert hits[0]["files"]["count"] == 2
    assert hits[0]["files"]["total_bytes"] == 1234
    assert hits[0]["custom_fields"]["hclegacy:groups_for_deposit"][0]["group_identifier"] == "1004"

    s = (
        dsl.Search(using=current_search_client, index=record_class_alias(RDMRecord))
        .filter("term", **{"parent.communities.ids": str(community.id)})
        .extra(size=0)
    )
    s.aggs.bucket("by_day", "date_histogram", field="created", calendar_interval="day")
    s.aggs.bucket("by_type", "terms", field="metadata.resource_type.id")
    r = s.execute()
    assert {b.key_as_string[:10]: b.doc_count for b in r.aggregations.by_day.buckets} == {
        "2019-03-04": 1,
        "2019-03-05": 1,
    }
    assert {b.key: b.doc_count for b in r.aggregations.by_type.buckets} == {
        "publication-article": 1,
        "dataset": 1,
    }
    found = current_communities.service.search(system_identity, q="slug:blr")
    assert found.total == 1
    assert list(found)[0]["custom_fields"]["kcr:commons_group_id"] == "1004"


def test_usage_event_round_trip(running_app, record_factory, usage_events, search_clear):
    """Views and downloads go through invenio-stats' pipeline and aggregate per record."""
    from invenio_stats.proxies import current_stats
    from invenio_stats.tasks import aggregate_events

    record = record_factory(files={"paper.pdf": 500})
    events = [UsageEvent(record, "2024-05-01T10:00:00", visitor=v) for v in range(3)]
    events += [
        UsageEvent(record, "2024-05-02T11:00:00", visitor=v, file_key="paper.pdf") for v in range(2)
    ]
    assert usage_events(events) == {"record-view": 3, "file-download": 2}
    aggregate_events(["record-view-agg", "file-download-agg"], start_date="2024-05-01")
    current_search_client.indices.refresh(index="*")
    views = current_stats.get_query("record-view").run(recid=record["id"])
    assert views["views"] == 3 and views["unique_views"] == 3
    downloads = current_stats.get_query("record-download").run(recid=record["id"])
    assert downloads["downloads"] == 2 and downloads["data_volume"] == 1000
