"""New traffic: invenio-stats' own pipeline writes enriched events (builders + indexer)."""

from flask import current_app
from invenio_search import current_search_client
from invenio_search.utils import prefix_index

from invenio_stats_dashboard.demo.factories import UsageEvent, default_metadata
from invenio_stats_dashboard.usage_events import indices
from invenio_stats_dashboard.usage_events.builders import BUILDER_PATH, INDEXER_PATH


def _docs(index):
    current_search_client.indices.refresh(index=index)
    res = current_search_client.search(index=index, body={"size": 100, "sort": ["timestamp"]})
    return [h["_source"] for h in res["hits"]["hits"]]


def test_stats_events_configured(app):
    for name in ("record-view", "file-download"):
        entry = current_app.config["STATS_EVENTS"][name]
        assert entry["event_builders"][-1] == BUILDER_PATH
        assert entry["cls"] == INDEXER_PATH
        # invenio-rdm-records' own builders and preprocessors are kept
        assert len(entry["event_builders"]) >= 3 and entry["params"]["preprocessors"]


def test_live_events_are_enriched(
    running_app, community_factory, record_factory, usage_events, search_clear
):
    blr = community_factory("blr")
    other = community_factory("other")
    record = record_factory(
        communities=[blr, other],
        metadata=default_metadata(
            "Enriched",
            subjects=[{"subject": "Poetry"}],
            rights=[{"id": "cc-by-4.0"}],
            funding=[{"funder": {"id": "00k4n6c32"}}],
        ),
        files={"paper.pdf": 100, "data.csv": 20},
    )
    bare = record_factory()
    counts = usage_events(
        [
            UsageEvent(record, "2024-05-01T10:00:00", visitor=1),
            UsageEvent(record, "2024-05-01T11:00:00", visitor=2, file_key="data.csv"),
            UsageEvent(bare, "2024-05-02T10:00:00", visitor=3),
        ]
    )
    assert counts == {"record-view": 2, "file-download": 1}
    views = _docs(indices.enriched_index("view", "2024-05"))
    downloads = _docs(indices.enriched_index("download", "2024-05"))
    assert len(views) == 2 and len(downloads) == 1
    view = views[0]
    assert view["recid"] == record["id"]
    assert view["record_id"] == str(record.id)
    assert view["parent_id"] == str(record.parent.id)
    assert view["community_ids"] == sorted([str(blr.id), str(other.id)])
    assert view["resource_type"]["id"] == "publication-article"
    assert view["resource_type"]["title"]["en"]
    assert view["access_status"] == "open"
    assert view["publisher"] == "Acme Inc"
    assert [x["id"] for x in view["languages"]] == ["eng"]
    assert view["subjects"] == [{"subject": "Poetry"}]
    assert view["rights"][0]["id"] == "cc-by-4.0"
    assert view["affiliations"][0]["id"] == "01ggx4157"
    assert view["funders"][0]["id"] == "00k4n6c32"
    assert view["journal_title"] is None  # the test site has no journal custom field
    assert view["file_types"] == ["csv", "pdf"]
    assert downloads[0]["community_ids"] == view["community_ids"]
    assert downloads[0]["file_types"] == ["csv"]
    assert views[1]["community_ids"] == [] and views[1]["access_status"] == "metadata-only"
    # no raw month existed: the enriched index is what invenio-stats reads
    assert indices.alias_holders("view") == {indices.enriched_index("view", "2024-05")}
    assert not current_search_client.indices.exists(index=indices.raw_index("view", "2024-05"))
    # invenio-stats' per-record statistics still work on the enriched events
    from invenio_stats.proxies import current_stats
    from invenio_stats.tasks import aggregate_events

    aggregate_events(["record-view-agg"], start_date="2024-05-01")
    current_search_client.indices.refresh(index=prefix_index("stats-*"))
    assert current_stats.get_query("record-view").run(recid=record["id"])["views"] == 1


def test_record_facts_from_search_document():
    """The migration reads records from the index: same facts from a search document."""
    from invenio_stats_dashboard.record_facts import record_facts
    from invenio_stats_dashboard.usage_events.enrichment import enrich_event

    doc = {
        "id": "abcd-1234",
        "uuid": "u-1",
        "parent": {"id": "pppp-0000", "uuid": "p-1", "communities": {"ids": ["c2", "c1"]}},
        "access": {"status": "embargoed"},
        "files": {"entries": [{"key": "a.PDF"}, {"key": "b.tar.gz"}, {"key": "README"}]},
        "custom_fields": {"journal:journal": {"title": "J. Tests"}},
        "metadata": {
            "resource_type": {"id": "dataset", "title": {"en": "Dataset"}},
            "publisher": "Pub",
            "creators": [{"affiliations": [{"id": "a1", "name": "A"}, {"name": "Free"}]}],
            "contributors": [{"affiliations": [{"id": "a1", "name": "A"}]}],
            "funding": [{"funder": {"id": "f1", "name": "F"}}, {"award": {"id": "x"}}],
        },
    }
    facts = record_facts(doc)
    assert facts["record_id"] == "u-1" and facts["parent_id"] == "p-1"
    assert facts["current_community_ids"] == ["c1", "c2"]
    assert facts["record_file_types"] == ["gz", "pdf", "unknown"]  # README: no extension
    assert facts["affiliations"] == [{"id": "a1", "name": "A"}, {"name": "Free"}]
    assert facts["funders"] == [{"id": "f1", "name": "F"}]
    view = enrich_event({"recid": "abcd-1234"}, facts, ["c9"], "record-view")
    assert view["journal_title"] == "J. Tests" and view["access_status"] == "embargoed"
    assert view["community_ids"] == ["c9"] and view["file_types"] == ["gz", "pdf", "unknown"]
    download = enrich_event({"file_key": "b.tar.gz"}, facts, [], "file-download")
    assert download["file_types"] == ["gz"]
    assert enrich_event({}, None, [], "record-view")["resource_type"] is None
