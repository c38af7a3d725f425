"""Usage delta and snapshot against a brute-force count over the fixture events."""

import random
from collections import defaultdict
from datetime import date, timedelta

import pytest
from invenio_access.permissions import system_identity
from invenio_search import current_search_client
from invenio_search.utils import prefix_index

from invenio_stats_dashboard.aggregations.registry import get_aggregator
from invenio_stats_dashboard.aggregations.run import RunContext
from invenio_stats_dashboard.core.bookmarks import AggregationBookmarks
from invenio_stats_dashboard.demo.factories import default_metadata
from invenio_stats_dashboard.usage_events.migration import MigrationOptions, Migrator

from .conftest import clear_history, make_event, members_on, write_history, write_raw

START, END = date(2024, 1, 1), date(2024, 2, 29)


@pytest.fixture()
def raw_site(running_app, community_factory, record_factory, search_clear):
    """Records, history and raw events of January and February 2024, nothing migrated."""
    from invenio_rdm_records.proxies import current_rdm_records_service

    a, b = community_factory("alpha"), community_factory("beta")
    r1 = record_factory(communities=[a, b], files={"paper.pdf": 300, "data.csv": 50})
    r2 = record_factory(
        communities=[a], metadata=default_metadata("Two", resource_type={"id": "dataset"})
    )
    r3 = record_factory(communities=[b], files={"talk.mp4": 1000})
    r4 = record_factory()
    # r3 is deleted (tombstoned) on 2024-02-10: it leaves beta and global that day
    current_rdm_records_service.delete_record(
        system_identity, r3["id"], {"removal_reason": {"id": "spam"}}
    )
    clear_history()
    history = [
        *[(r, "global", "added", "2023-12-01") for r in (r1, r2, r3, r4)],
        (r1, str(b.id), "added", "2024-01-03"),
        (r1, str(a.id), "added", "2024-01-20"),
        (r2, str(a.id), "added", "2024-01-01"),
        (r2, str(a.id), "removed", "2024-02-05"),
        (r3, str(b.id), "added", "2024-01-10"),
        (r3, str(b.id), "removed", "2024-02-10"),
        (r3, "global", "removed", "2024-02-10"),
    ]
    write_history(history)
    rng = random.Random(11)
    events = []
    for n in range(400):
        record = rng.choice([r1, r2, r3, r4])
        day = START + timedelta(days=rng.randrange((END - START).days + 1))
        when = f"{day}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}"
        visitor = rng.randrange(40)  # visitors come back, on several days
        files = {r1["id"]: ["paper.pdf", "data.csv"], r3["id"]: ["talk.mp4"]}.get(record["id"])
        key = rng.choice(files) if files and rng.random() < 0.4 else None
        events.append(
            make_event(
                record,
                when,
                visitor,
                file_key=key,
                country=rng.choice(["US", "DE", "FR"]),
                referrer=rng.choice([None, "https://www.google.com/x", "https://t.co/y"]),
                is_robot=n % 17 == 0,
                is_machine=n % 13 == 0,
            )
        )
    write_raw(events)
    records = {r["id"]: r for r in (r1, r2, r3, r4)}
    return {"a": a, "b": b, "records": records, "history": history, "events": events}


@pytest.fixture()
def usage_site(raw_site):
    """The site with every month migrated."""
    Migrator(MigrationOptions()).run()
    return raw_site


def _brute_force(site):
    """community -> day -> kind -> metrics, straight from the fixture events."""
    days = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for name, _id, doc in site["events"]:
        if doc["is_robot"]:
            continue
        record = site["records"][doc["recid"]]
        day = date.fromisoformat(doc["timestamp"][:10])
        kind = "download" if name == "file-download" else "view"
        for cid in ["global", *members_on(site["history"], str(record.id), day)]:
            days[cid][day][kind].append((doc, record))
    return days


def _metrics(pairs, download, visitors=None):
    out = {
        "total_events": len(pairs),
        "unique_visitors": visitors
        if visitors is not None
        else len({d["visitor_id"] for d, _ in pairs}),
        "unique_records": len({str(r.id) for _, r in pairs}),
        "unique_parents": len({str(r.parent.id) for _, r in pairs}),
    }
    if download:
        out["unique_files"] = len({d["file_id"] for d, _ in pairs})
        out["total_volume"] = float(sum(d["size"] for d, _ in pairs))
    return out


def _docs(alias, cid):
    current_search_client.indices.refresh(index=prefix_index(alias))
    res = current_search_client.search(
        index=prefix_index(alias),
        body={"size": 500, "query": {"term": {"community_id": cid}}},
    )
    return {h["_id"]: h["_source"] for h in res["hits"]["hits"]}


def _run(community_ids, **kwargs):
    ctx = RunContext(end=END, bookmarks=AggregationBookmarks(), **kwargs)
    aggregators = [
        get_aggregator("community-usage-delta"),
        get_aggregator("community-usage-snapshot"),
    ]
    return type(aggregators[0]).run_batch(aggregators, ctx, community_ids), ctx


def test_usage_delta_and_snapshot_match_brute_force(usage_site):
    site = usage_site
    expected = _brute_force(site)
    ids = ["global", str(site["a"].id), str(site["b"].id)]
    results, _ = _run(ids)
    for cid in ids:
        assert results["community-usage-delta"][cid].start == min(expected[cid])
        cumulative = _assert_totals(cid, expected[cid])
        snapshot = _docs("stats-community-usage-snapshot", cid)
        # subcounts on the last snapshot: countries and file types, by brute force
        last = snapshot[f"{cid}-{END}"]["subcounts"]
        countries = {i["id"]: i["view"]["total_events"] for i in last["countries"]}
        want = defaultdict(int)
        for d, _ in cumulative["view"]:
            want[d["country"]] += 1
        assert countries == {k: v for k, v in want.items()}
        file_types = {i["id"]: i["download"]["total_events"] for i in last["file_types"]}
        want = defaultdict(int)
        for d, _ in cumulative["download"]:
            want[d["file_key"].rsplit(".", 1)[1]] += 1
        assert {k: v for k, v in file_types.items() if v} == dict(want)
        referrers = {i["id"] for i in last["referrers"]}
        assert referrers <= {"www.google.com", "t.co"}
        types = {i["id"]: i["view"]["unique_records"] for i in last["resource_types"]}
        want = defaultdict(set)
        for _d, r in cumulative["view"]:
            want[r["metadata"]["resource_type"]["id"]].add(str(r.id))
        assert types == {k: len(v) for k, v in want.items()}


def _assert_totals(cid, per_day) -> dict:
    """Every delta and snapshot document's totals against the brute force; the events."""
    first = min(per_day)
    delta = _docs("stats-community-usage-delta", cid)
    snapshot = _docs("stats-community-usage-snapshot", cid)
    span = (END - first).days + 1
    # the series starts at the first event day and has every day to the end
    assert len(delta) == span and len(snapshot) == span, cid
    cumulative = {"view": [], "download": []}
    visitor_days = {"view": 0, "download": 0}
    for offset in range(span):
        day = first + timedelta(days=offset)
        doc = delta[f"{cid}-{day}"]
        assert doc["period_start"] == f"{day.isoformat()}T00:00:00"  # as record deltas
        assert doc["period_end"] == f"{day.isoformat()}T23:59:59"
        assert isinstance(doc["totals"]["download"]["total_volume"], int)  # bytes, exact
        for kind in ("view", "download"):
            pairs = per_day.get(day, {}).get(kind, [])
            assert doc["totals"][kind] == _metrics(pairs, kind == "download"), (cid, day)
            cumulative[kind] += pairs
            visitor_days[kind] += len({d["visitor_id"] for d, _ in pairs})
            snap = snapshot[f"{cid}-{day}"]["totals"][kind]
            want = _metrics(cumulative[kind], kind == "download", visitor_days[kind])
            assert snap == want, (cid, day)
    return cumulative


def test_usage_follows_months_migrated_after_aggregation(raw_site):
    """Aggregate with only January migrated, then migrate February: the next run from the
    bookmarks redoes February, and every document matches the brute force."""
    site = raw_site
    ids = ["global", str(site["a"].id), str(site["b"].id)]
    Migrator(MigrationOptions(months=("2024-01",))).run()
    _run(ids)
    assert AggregationBookmarks().get("community-usage-delta", "global") == END
    Migrator(MigrationOptions(months=("2024-02",))).run()
    assert AggregationBookmarks().get("community-usage-delta", "global") == date(2024, 1, 31)
    _run(ids)
    expected = _brute_force(site)
    for cid in ids:
        _assert_totals(cid, expected[cid])


def test_usage_incremental_run_continues_the_snapshot(usage_site):
    """A second run from the bookmark writes the same numbers as one full run."""
    cid = str(usage_site["a"].id)
    full, _ = _run([cid])
    whole = _docs("stats-community-usage-snapshot", cid)
    current_search_client.indices.delete(
        index=prefix_index("stats-community-usage-*"), expand_wildcards="all"
    )
    current_search_client.indices.delete(
        index=prefix_index("stats-bookmarks-community-*"), expand_wildcards="all", ignore=[404]
    )
    ctx = RunContext(end=date(2024, 1, 31), bookmarks=AggregationBookmarks())
    delta = get_aggregator("community-usage-delta")
    type(delta).run_batch([delta, get_aggregator("community-usage-snapshot")], ctx, [cid])
    assert AggregationBookmarks().get("community-usage-snapshot", cid) == date(2024, 1, 31)
    _run([cid])
    assert _docs("stats-community-usage-snapshot", cid).keys() == whole.keys()
    again = _docs("stats-community-usage-snapshot", cid)
    for key, doc in whole.items():
        assert again[key]["totals"] == doc["totals"], key
        assert again[key]["subcounts"] == doc["subcounts"], key


def test_aggregate_status_and_read_commands(usage_site, cli_runner):
    """The core commands run, show and read the usage aggregations (registry plumbing)."""
    import json

    site = usage_site
    cid = str(site["a"].id)
    result = cli_runner(
        "aggregate", "--eager", "--community-id", "alpha", "--end-date", END.isoformat()
    )
    assert result.exit_code == 0, result.output
    result = cli_runner(
        "read",
        "--community-id",
        "alpha",
        "--query-type",
        "community-usage-delta",
        "--start-date",
        "2024-02-01",
        "--end-date",
        "2024-02-07",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    documents = json.loads(result.output)["results"]["community-usage-delta"]
    assert [d["period_start"] for d in documents] == [f"2024-02-0{n}T00:00:00" for n in range(1, 8)]
    expected = _brute_force(site)[cid]
    for doc in documents:
        day = date.fromisoformat(doc["period_start"][:10])
        views = expected.get(day, {}).get("view", [])
        assert doc["totals"]["view"] == _metrics(views, False)
    result = cli_runner(
        "read",
        "--community-id",
        "alpha",
        "--query-type",
        "community-usage-snapshot",
        "--start-date",
        "2024-02-29",
        "--end-date",
        "2024-02-29",
    )
    assert result.exit_code == 0 and "totals.view.total_events" in result.output
    status = cli_runner("status", "--community-id", "alpha", "--verbose")
    assert status.exit_code == 0
    assert "usage-delta" in status.output and "usage-snapshot" in status.output
    status = cli_runner("status", "--community-id", "alpha", "--format", "json")
    (alpha,) = json.loads(status.output)["communities"]
    series = {s["query_type"]: s for s in alpha["series"]}
    last = date.fromisoformat(series["community-usage-snapshot"]["last_day"])
    per_day = _brute_force(site)[cid]
    for kind, figure in (("view", "views"), ("download", "downloads")):
        pairs = [p for day, kinds in per_day.items() if day <= last for p in kinds.get(kind, [])]
        assert alpha["totals"][figure] == _metrics(pairs, kind == "download")["total_events"]


USAGE_OUTPUTS = ("stats-community-usage-delta", "stats-community-usage-snapshot")


def _all_docs() -> dict:
    """Every usage document, timestamps aside."""
    out = {}
    for alias in USAGE_OUTPUTS:
        current_search_client.indices.refresh(index=prefix_index(alias))
        body = {"size": 1000, "sort": [{"_id": "asc"}], "query": {"match_all": {}}}
        for hit in current_search_client.search(index=prefix_index(alias), body=body)["hits"][
            "hits"
        ]:
            source = {
                k: v
                for k, v in hit["_source"].items()
                if k not in ("timestamp", "updated_timestamp")
            }
            out[(alias, hit["_id"])] = source
    return out


def _wipe_usage() -> None:
    current_search_client.indices.delete(
        index=prefix_index("stats-community-usage-*"), expand_wildcards="all", ignore=[404]
    )
    current_search_client.indices.delete(
        index=prefix_index("stats-bookmarks-community-*"), expand_wildcards="all", ignore=[404]
    )


def _run_to(ids, end, **kwargs):
    ctx = RunContext(end=end, bookmarks=AggregationBookmarks(), **kwargs)
    aggregators = [
        get_aggregator("community-usage-delta"),
        get_aggregator("community-usage-snapshot"),
    ]
    return type(aggregators[0]).run_batch(aggregators, ctx, ids)


def _delete_enriched_through(day) -> None:
    from invenio_stats_dashboard.core.indices import enriched_patterns

    current_search_client.delete_by_query(
        index=enriched_patterns(),
        body={"query": {"range": {"timestamp": {"lte": f"{day}T23:59:59"}}}},
        refresh=True,
    )


def test_incremental_runs_write_the_documents_of_one_full_run(usage_site):
    """Runs that go on from the stored state, day after day, end as one full run, and
    they read no event before their state: deleting those events changes nothing."""
    site = usage_site
    ids = ["global", str(site["a"].id), str(site["b"].id)]
    _run_to(ids, END)
    full = _all_docs()
    _wipe_usage()
    for end in (date(2024, 1, 9), date(2024, 1, 10), date(2024, 1, 31), date(2024, 2, 14)):
        _run_to(ids, end)
    # what the next run needs is in the stored states: events up to the bookmark go
    _delete_enriched_through(date(2024, 2, 14))
    _run_to(ids, END)
    assert _all_docs() == full


def test_a_rewind_or_new_settings_recompute_from_the_series_start(usage_site, monkeypatch):
    """A state is used only at the day before the window and with the same subcounts."""
    from flask import current_app

    from invenio_stats_dashboard.aggregations.rewinds import rewind_usage_bookmarks

    site = usage_site
    ids = ["global", str(site["a"].id), str(site["b"].id)]
    _run_to(ids, END)
    full = _all_docs()
    _wipe_usage()
    _run_to(ids, date(2024, 2, 10))
    rewind_usage_bookmarks(date(2024, 1, 15))  # as a migration of late events does
    _run_to(ids, END)
    assert _all_docs() == full

    # a state built without a subcount cannot serve a run that has it
    subcounts = dict(current_app.config["COMMUNITY_STATS_USAGE_SUBCOUNTS"])
    fewer = {k: v for k, v in subcounts.items() if k != "countries"}
    _wipe_usage()
    monkeypatch.setitem(current_app.config, "COMMUNITY_STATS_USAGE_SUBCOUNTS", fewer)
    _run_to(ids, date(2024, 1, 31))
    monkeypatch.setitem(current_app.config, "COMMUNITY_STATS_USAGE_SUBCOUNTS", subcounts)
    _run_to(ids, END)
    february = {k: v for k, v in _all_docs().items() if "2024-02-" in k[1]}
    assert february == {k: v for k, v in full.items() if "2024-02-" in k[1]}


def test_a_rewrite_from_before_the_bookmark_keeps_the_state_true(usage_site):
    """``--start-date`` before the bookmark recounts a late event and stores the state again
    (the bookmark stays): the next incremental run goes on from the recount."""
    from invenio_stats_dashboard.core.indices import enriched_patterns

    site = usage_site
    ids = ["global", str(site["a"].id), str(site["b"].id)]
    _run_to(ids, date(2024, 2, 14))
    # an event indexed late, dated before the bookmark (straight into its enriched index)
    hit = current_search_client.search(
        index=enriched_patterns(),
        body={"size": 1, "query": {"range": {"timestamp": {"lt": "2024-01-05"}}}},
    )["hits"]["hits"][0]
    late = {**hit["_source"], "timestamp": "2024-01-10T12:00:00", "visitor_id": "late-visitor"}
    current_search_client.index(index=hit["_index"], id="late-event", body=late, refresh=True)
    _run_to(ids, date(2024, 2, 14), start=date(2024, 1, 10))
    _run_to(ids, END)
    incremental = _all_docs()
    _wipe_usage()
    _run_to(ids, END)
    assert incremental == _all_docs()


def test_an_event_indexed_days_late_is_counted_by_the_next_run(usage_site):
    """invenio-stats indexes an event a month late (a stalled queue): the next plain run
    moves the usage bookmarks back and ends as one full run with the event."""
    from invenio_stats_dashboard.aggregations.service import run_aggregations
    from invenio_stats_dashboard.core.days import utc_now
    from invenio_stats_dashboard.core.indices import enriched_patterns

    site = usage_site
    ids = ["global", str(site["a"].id), str(site["b"].id)]
    names = ["community-usage-delta", "community-usage-snapshot"]
    run_aggregations(community_ids=ids, end=date(2024, 2, 10), names=names)
    run_aggregations(community_ids=ids, end=date(2024, 2, 14), names=names)
    hit = current_search_client.search(
        index=enriched_patterns(),
        body={"size": 1, "query": {"range": {"timestamp": {"lt": "2024-01-05"}}}},
    )["hits"]["hits"][0]
    late = {
        **hit["_source"],
        "timestamp": "2024-01-10T12:00:00",
        "visitor_id": "late-visitor",
        "updated_timestamp": utc_now().isoformat(),  # when invenio-stats indexed it
    }
    current_search_client.index(index=hit["_index"], id="late-event", body=late, refresh=True)
    run_aggregations(community_ids=ids, end=END, names=names)
    incremental = _all_docs()
    _wipe_usage()
    run_aggregations(community_ids=ids, end=END, names=names)
    full = _all_docs()
    assert incremental == full
    # the event is in the documents (so the comparison above could fail)
    assert full != {}
    delta = full[("stats-community-usage-delta", "global-2024-01-10")]
    assert delta["totals"]["view"]["unique_visitors"] >= 1
