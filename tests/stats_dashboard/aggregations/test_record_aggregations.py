"""The six records aggregations against brute-force expectations, field by field."""

import time
from datetime import date, timedelta

import pytest
from invenio_search import current_search_client

from invenio_stats_dashboard.aggregations.registry import aggregators, get_aggregator
from invenio_stats_dashboard.aggregations.service import run_aggregations
from invenio_stats_dashboard.core.bookmarks import AggregationBookmarks

from .conftest import RUN_END
from .expected import (
    COMMUNITIES,
    RECORD_AGGREGATIONS,
    Truth,
    assert_matches,
    delete_after,
    expected_documents,
    stored,
)


@pytest.fixture(scope="module")
def full_run(site):
    report = run_aggregations(end=RUN_END)
    return report


def test_every_document_matches_brute_force(site, full_run):
    truth = Truth(site)
    assert_matches(site, truth)
    # the fixture does exercise the interesting cases
    a_added = expected_documents(truth, "A", "delta", "added", RUN_END)
    assert a_added[date(2024, 1, 15)]["records"]["removed"]["with_files"] == 1
    c_snap = expected_documents(truth, "C", "snapshot", "created", RUN_END)
    assert c_snap[date(2024, 1, 13)]["total_records"] == {"metadata_only": 0, "with_files": 1}
    assert c_snap[date(2024, 1, 14)]["total_records"] == {"metadata_only": 1, "with_files": 1}
    pub = expected_documents(truth, "A", "snapshot", "published", RUN_END)
    assert min(pub) == date(2023, 6, 1)  # folded onto COMMUNITY_STATS_EARLIEST_DATE
    langs = expected_documents(truth, "global", "snapshot", "created", RUN_END)[RUN_END]
    assert len(langs["subcounts"]["languages"]) == 2  # top 2 of 4 languages


def test_bookmarks_and_report(site, full_run):
    store = AggregationBookmarks()
    for aggregator in aggregators():
        if not aggregator.name.startswith("community-records-"):
            continue
        for name in COMMUNITIES:
            assert store.get(aggregator.name, site.community_id(name)) == RUN_END
    assert full_run.documents > 0
    assert set(full_run.timings) >= {a.name for a in aggregators() if "records" in a.name}


def test_rerun_changes_nothing(site, full_run):
    truth = Truth(site)
    before = {
        (kind, basis, name): stored(
            get_aggregator(f"community-records-{kind}-{basis}"), site.community_id(name)
        )
        for kind, basis in RECORD_AGGREGATIONS
        for name in COMMUNITIES
    }
    # bookmarked: nothing to do
    report = run_aggregations(end=RUN_END)
    assert report.documents == 0
    # an explicit range rewrites the same documents
    report = run_aggregations(start=date(2024, 1, 8), end=date(2024, 1, 12))
    assert report.documents > 0
    report = run_aggregations(end=RUN_END, ignore_bookmark=True)
    after = {
        key: stored(
            get_aggregator(f"community-records-{key[0]}-{key[1]}"), site.community_id(key[2])
        )
        for key in before
    }
    assert after == before
    assert_matches(site, truth)


def test_interrupted_and_limited_runs_complete(site, full_run, app):
    """Bookmarks mid-way (a killed run) and the catch-up limit: the next runs finish."""
    store = AggregationBookmarks()
    community_id = site.community_id("A")
    alias = get_aggregator("community-records-delta-created").alias
    # a run killed after writing up to 2024-01-08: later documents are missing
    current_search_client.delete_by_query(
        index=f"{alias},{get_aggregator('community-records-snapshot-created').alias}",
        body={
            "query": {
                "bool": {
                    "filter": [
                        {"term": {"community_id": community_id}},
                        {
                            "bool": {
                                "should": [
                                    {"range": {"period_start": {"gt": "2024-01-08"}}},
                                    {"range": {"snapshot_date": {"gt": "2024-01-08"}}},
                                ]
                            }
                        },
                    ]
                }
            }
        },
        refresh=True,
    )
    for name in ("community-records-delta-created", "community-records-snapshot-created"):
        store.set(name, community_id, date(2024, 1, 8))
    # today is far after RUN_END: a catch-up limit (the scheduled task's) stops early
    report = run_aggregations(
        community_ids=[community_id],
        catchup_limit=5,
        names=["community-records-delta-created", "community-records-snapshot-created"],
    )
    assert report.limited
    store = AggregationBookmarks()
    assert store.get("community-records-delta-created", community_id) == date(2024, 1, 13)
    assert store.get("community-records-snapshot-created", community_id) == date(2024, 1, 13)
    report = run_aggregations(
        community_ids=[community_id],
        end=RUN_END,
        names=["community-records-delta-created", "community-records-snapshot-created"],
    )
    assert AggregationBookmarks().get("community-records-delta-created", community_id) == RUN_END
    assert_matches(site, Truth(site), communities=("A",))


def test_snapshot_never_runs_ahead_of_its_delta(site, full_run):
    community_id = site.community_id("B")
    store = AggregationBookmarks()
    store.set("community-records-delta-added", community_id, date(2024, 1, 10))
    store.set("community-records-snapshot-added", community_id, date(2024, 1, 10))
    report = run_aggregations(
        community_ids=[community_id],
        end=RUN_END + timedelta(days=2),
        names=["community-records-snapshot-added"],
        update_bookmark=True,
    )
    assert report.documents == 0  # the delta has not gone further
    assert AggregationBookmarks().get("community-records-snapshot-added", community_id) == date(
        2024, 1, 10
    )
    run_aggregations(community_ids=[community_id], end=RUN_END)
    store = AggregationBookmarks()
    assert store.get("community-records-snapshot-added", community_id) == RUN_END
    assert store.get("community-records-delta-added", community_id) == RUN_END


def test_no_update_bookmark_leaves_bookmarks(site, full_run):
    community_id = site.community_id("C")
    store = AggregationBookmarks()
    before = store.all("community-records-delta-published")
    report = run_aggregations(
        community_ids=[community_id], end=RUN_END + timedelta(days=3), update_bookmark=False
    )
    assert report.documents > 0
    assert AggregationBookmarks().all("community-records-delta-published") == before
    truth = Truth(site)
    docs = stored(get_aggregator("community-records-snapshot-published"), community_id)
    extra = RUN_END + timedelta(days=3)
    from .expected import expected_snapshot

    expected = expected_snapshot(truth, "C", "published", extra)
    expected["snapshot_date"] = extra.isoformat()
    assert docs[extra] == expected
    delete_after(community_id, RUN_END)


def test_scheduled_task_gates_and_lock(site, full_run, app):
    """The beat entry names the task; it obeys the config switches and the run lock."""
    from invenio_stats_dashboard.aggregations.service import LOCK_NAME
    from invenio_stats_dashboard.aggregations.tasks import aggregate_community_stats
    from invenio_stats_dashboard.config import COMMUNITY_STATS_CELERYBEAT_SCHEDULE
    from invenio_stats_dashboard.core.locks import run_lock

    celery = app.extensions["invenio-celery"].celery
    for entry in COMMUNITY_STATS_CELERYBEAT_SCHEDULE.values():
        assert entry["task"] in celery.tasks
    community_id = site.community_id("A")
    later = RUN_END + timedelta(days=1)
    kwargs = {"community_ids": [community_id], "end_date": later.isoformat()}

    app.config["COMMUNITY_STATS_SCHEDULED_TASKS_ENABLED"] = False
    try:
        assert "skipped" in aggregate_community_stats.delay(**kwargs).get()
    finally:
        app.config["COMMUNITY_STATS_SCHEDULED_TASKS_ENABLED"] = True
    app.config["COMMUNITY_STATS_ENABLED"] = False
    try:
        assert "skipped" in aggregate_community_stats.delay(force=True, **kwargs).get()
    finally:
        app.config["COMMUNITY_STATS_ENABLED"] = True
    with run_lock(LOCK_NAME, 60, "a test"):
        result = aggregate_community_stats.delay(**kwargs).get()
    assert "in progress" in result["skipped"]
    assert AggregationBookmarks().get("community-records-delta-created", community_id) == RUN_END

    result = aggregate_community_stats.delay(update_bookmark=False, **kwargs).get()
    assert result["documents"] == 6  # one new day, six aggregations
    assert AggregationBookmarks().get("community-records-delta-created", community_id) == RUN_END
    delete_after(community_id, RUN_END)


def _back_to_run_end(site):
    """Documents after RUN_END deleted, records bookmarks back at RUN_END."""
    store = AggregationBookmarks()
    for name in COMMUNITIES:
        community_id = site.community_id(name)
        delete_after(community_id, RUN_END)
        for kind, basis in RECORD_AGGREGATIONS:
            store.set(f"community-records-{kind}-{basis}", community_id, RUN_END)


def _edit_languages(site, key, languages):
    """Edit a published record (no new version): its ``updated`` moves, its facts change."""
    from invenio_access.permissions import system_identity
    from invenio_rdm_records.proxies import current_rdm_records_service as service

    record_id = site.records[key]["id"]
    draft = service.edit(system_identity, record_id)
    data = draft.to_dict()
    data["metadata"]["languages"] = [{"id": lang} for lang in languages]
    service.update_draft(system_identity, record_id, data)
    service.publish(system_identity, record_id)
    current_search_client.indices.refresh(index="*")


def test_communities_without_news_are_copied_without_reads(site, full_run, monkeypatch):
    """New days of communities with no history and no edits since their bookmarks are
    copies: right, and written without reading their history or records."""
    from invenio_stats_dashboard.aggregations.records import aggregators as records_module

    run_aggregations(end=RUN_END)  # earlier tests moved some bookmarks
    later = RUN_END + timedelta(days=6)
    read = []
    real = records_module.load_community
    monkeypatch.setattr(
        records_module,
        "load_community",
        lambda cid, *args: read.append(cid) or real(cid, *args),
    )
    report = run_aggregations(end=later)
    monkeypatch.undo()
    assert read == []
    written = sum(
        outcome.documents
        for name, outcomes in report.results.items()
        if name.startswith("community-records-")
        for outcome in outcomes.values()
    )
    assert written == 6 * 6 * len(COMMUNITIES)  # six new days, six aggregations
    # a copy says when its records were checked: the next run looks for edits from there
    alias = get_aggregator("community-records-snapshot-added").alias
    current_search_client.indices.refresh(index=alias)
    stamps = {
        hit["_source"]["snapshot_date"][:10]: hit["_source"]["timestamp"]
        for hit in current_search_client.search(
            index=alias,
            body={
                "query": {
                    "ids": {
                        "values": [
                            f"{site.community_id('B')}-{day.isoformat()}"
                            for day in (RUN_END, later)
                        ]
                    }
                }
            },
        )["hits"]["hits"]
    }
    assert stamps[later.isoformat()] > stamps[RUN_END.isoformat()]
    assert_matches(site, Truth(site), end=later)
    # and after new settings, the next run computes again instead of copying
    from flask import current_app

    current_app.config["COMMUNITY_STATS_TOP_SUBCOUNT_LIMIT"] = 3
    try:
        run_aggregations(end=later + timedelta(days=1))
        day = later + timedelta(days=1)
        docs = stored(get_aggregator("community-records-snapshot-created"), "global")
        assert len(docs[day]["subcounts"]["languages"]) == 3  # 4 languages, top 3
        assert len(docs[later]["subcounts"]["languages"]) == 2
    finally:
        current_app.config["COMMUNITY_STATS_TOP_SUBCOUNT_LIMIT"] = 2
    _back_to_run_end(site)


def test_an_edited_record_is_read_again(site, full_run, monkeypatch):
    """A record edited since the last run: its communities and global are computed again
    (their new days count its new facts); the others are copied. The kept workspaces
    read that record only, and go on from the totals kept at their last computed
    bookmarks (two days of copies ago)."""
    from dataclasses import replace

    from invenio_stats_dashboard.aggregations.records import workspace as workspace_module

    from .conftest import SITE_RECORDS
    from .expected import expected_documents

    # every snapshot keeps its totals at RUN_END (earlier tests went further and back)
    run_aggregations(end=RUN_END, ignore_bookmark=True)
    copied = RUN_END + timedelta(days=2)
    run_aggregations(end=copied)  # no news: copies
    _edit_languages(site, "r2", ("eng",))  # r2 is in A (and global); it left B
    loads, facts_read, summed = {}, [], []
    real_load, real_facts = workspace_module.RecordsWorkspace.load, workspace_module.load_facts
    real_sum = workspace_module._totals_sql

    def load(self, *args):
        loads[self.community_id] = real_load(self, *args)
        return loads[self.community_id]

    monkeypatch.setattr(workspace_module.RecordsWorkspace, "load", load)
    monkeypatch.setattr(
        workspace_module,
        "load_facts",
        lambda ids, *args: facts_read.extend(ids) or real_facts(ids, *args),
    )
    monkeypatch.setattr(
        workspace_module, "_totals_sql", lambda scoped: summed.append(scoped) or real_sum(scoped)
    )
    try:
        later = copied + timedelta(days=3)
        run_aggregations(end=later)
        monkeypatch.undo()
        # A, global, and B (which r2 left: its history there is read too)
        assert loads == dict.fromkeys([site.community_id(c) for c in "AB"] + ["global"], "changes")
        assert set(facts_read) == {str(site.records["r2"].id)}
        assert summed and all(summed)  # only the edited record's share was summed
        edited = [replace(r, languages=("eng",)) if r.key == "r2" else r for r in SITE_RECORDS]
        truth = Truth(site, records=edited)
        for kind, basis in RECORD_AGGREGATIONS:
            aggregator = get_aggregator(f"community-records-{kind}-{basis}")
            for name in COMMUNITIES:
                docs = stored(aggregator, site.community_id(name))
                expected = expected_documents(truth, name, kind, basis, later)
                for day in (copied + timedelta(days=n) for n in (1, 2, 3)):
                    assert docs[day] == expected[day], (kind, basis, name, day)
        # the edit does change A's numbers (so copies would have been wrong)
        unedited = expected_documents(Truth(site), "A", "snapshot", "added", later)[later]
        assert unedited != expected_documents(truth, "A", "snapshot", "added", later)[later]
    finally:
        _edit_languages(site, "r2", ("spa",))
        _back_to_run_end(site)


def test_stats_follow_created_date_repairs(site, full_run, app):
    """The importer's signal: history updated, created-basis bookmarks rewound, next run right."""
    from dataclasses import replace
    from datetime import UTC, datetime

    from invenio_record_importer_kcworks.signals import record_created_dates_updated
    from invenio_stats_dashboard.demo import factories

    from .conftest import HISTORY, SITE_RECORDS

    # bring everything up to RUN_END first (earlier tests moved some bookmarks)
    run_aggregations(end=RUN_END)
    moves = {"r4": date(2024, 1, 1), "r6": date(2024, 1, 3)}  # one earlier, one later
    old = {r.key: r.created for r in SITE_RECORDS}
    changes = []
    for key, new_day in moves.items():
        record = site.records[key]
        factories.set_created(record, new_day.isoformat())  # what the importer writes
        changes.append(
            {
                "record_id": str(record.id),
                "parent_id": str(record.parent.id),
                "old_created": datetime.combine(old[key], datetime.min.time(), tzinfo=UTC),
                "new_created": datetime.combine(new_day, datetime.min.time(), tzinfo=UTC),
            }
        )
    record_created_dates_updated.send(app, changes=changes)

    store = AggregationBookmarks()
    rewound = date(2023, 12, 31)
    for name in ("community-records-delta-created", "community-records-snapshot-created"):
        for community in ("A", "B", "C", "global"):  # r4 is in B and C, r6 in A
            assert store.get(name, site.community_id(community)) == rewound
    assert store.get("community-records-delta-added", "global") == rewound
    assert store.get("community-records-delta-added", site.community_id("A")) == RUN_END
    assert store.get("community-records-delta-published", site.community_id("A")) == RUN_END

    run_aggregations(end=RUN_END)  # no --ignore-bookmark
    records = [replace(r, created=moves.get(r.key, r.created)) for r in SITE_RECORDS]
    history = [
        (rec, c, ev, moves[rec] if (c == "global" and ev == "added" and day == old[rec]) else day)
        if rec in moves
        else (rec, c, ev, day)
        for rec, c, ev, day in HISTORY
    ]
    assert_matches(site, Truth(site, history=history, records=records))
    # A's created series now starts on 2024-01-03: the document of 2024-01-02 is gone
    docs = stored(get_aggregator("community-records-delta-created"), site.community_id("A"))
    assert min(docs) == date(2024, 1, 3)


def test_the_community_list_follows_the_events_written(site, full_run):
    """A run lists the history's communities whole once, then from the events written
    since; deleted events, an index gone and an unreadable file list them whole again.

    (The module's edit margin is 0: every event written before a listing is older.)
    """
    from invenio_stats_dashboard.aggregations.community_list import (
        FILE_NAME,
        all_community_ids,
        history_communities,
    )
    from invenio_stats_dashboard.aggregations.records.workspace import workspace_dir
    from invenio_stats_dashboard.core.days import utc_now
    from invenio_stats_dashboard.core.indices import events_alias

    everyone = sorted(site.community_id(name) for name in COMMUNITIES)
    (workspace_dir() / FILE_NAME).unlink(missing_ok=True)
    assert history_communities() == (everyone, "full")
    assert history_communities() == (everyone, "changes")
    assert all_community_ids() == ["global", *(c for c in everyone if c != "global")]
    # a community whose first event was written since
    hit = current_search_client.search(
        index=events_alias(),
        body={"size": 1, "query": {"term": {"community_id": site.community_id("A")}}},
    )["hits"]["hits"][0]
    newcomer = "00000000-0000-0000-0000-00000000000z"
    stamp = utc_now().isoformat()
    source = {**hit["_source"], "community_id": newcomer, "updated_timestamp": stamp}
    current_search_client.index(index=hit["_index"], id="newcomer", body=source, refresh=True)
    time.sleep(1.1)  # listings count events older than their own second
    assert history_communities() == (sorted([*everyone, newcomer]), "changes")
    # its event deleted: fewer events than counted, so listed whole (without it)
    current_search_client.delete(index=hit["_index"], id="newcomer", refresh=True)
    assert history_communities() == (everyone, "full")
    # a new year's index is new, not different; once it is gone, listed whole
    new_year = f"{events_alias()}-2099"
    current_search_client.indices.create(index=new_year)
    try:
        assert history_communities() == (everyone, "changes")
    finally:
        current_search_client.indices.delete(index=new_year)
    assert history_communities() == (everyone, "full")
    (workspace_dir() / FILE_NAME).write_text("{not json")
    assert history_communities() == (everyone, "full")
    (workspace_dir() / FILE_NAME).write_text('{"ids": [], "indices": {}, "older_than": null}')
    assert history_communities() == (everyone, "full")
    assert history_communities() == (everyone, "changes")


def test_a_workspace_that_does_not_add_up_is_read_again(site, full_run):
    """Events deleted from the history (or written with an old stamp) make the next load
    read the community whole; an unreadable file too."""
    from invenio_stats_dashboard.aggregations.records.workspace import (
        RecordsWorkspace,
        workspace_dir,
    )
    from invenio_stats_dashboard.aggregations.run import earliest_date
    from invenio_stats_dashboard.aggregations.subcounts import active
    from invenio_stats_dashboard.core.indices import events_alias

    run_aggregations(end=RUN_END)
    kinds = list(active("COMMUNITY_STATS_SUBCOUNTS", usage=False))

    def load() -> str:
        with RecordsWorkspace("global", kinds, earliest_date()) as workspace:
            return workspace.load()

    assert load() == "changes"
    # a new year's index is new, not different
    new_year = f"{events_alias()}-2099"
    current_search_client.indices.create(index=new_year)
    try:
        assert new_year in current_search_client.indices.get(index=events_alias())
        assert load() == "changes"
    finally:
        current_search_client.indices.delete(index=new_year)
    hit = current_search_client.search(
        index=events_alias(), body={"size": 1, "query": {"term": {"community_id": "global"}}}
    )["hits"]["hits"][0]
    current_search_client.delete(index=hit["_index"], id=hit["_id"], refresh=True)
    try:
        assert load() == "full"
        assert load() == "changes"
    finally:
        # back with its old stamps: the count no longer adds up, so read whole again
        current_search_client.index(
            index=hit["_index"], id=hit["_id"], body=hit["_source"], refresh=True
        )
    assert load() == "full"
    (workspace_dir() / "global.sqlite").write_bytes(b"not a database")
    assert load() == "full"
    assert load() == "changes"
    run_aggregations(end=RUN_END)
