"""The API's response cache and the ``cache`` commands, on the real Redis."""

import gzip
from datetime import date

import brotli
import pytest

from invenio_stats_dashboard.aggregations.service import run_aggregations
from invenio_stats_dashboard.cache.store import ResponseCache, pattern
from invenio_stats_dashboard.cli import cli
from invenio_stats_dashboard.core.days import utc_today

from .conftest import END, body

URL = "/stats-dashboard"


@pytest.fixture()
def store(api_site):
    cache = ResponseCache()
    cache.drop()
    cache.reset_counters()
    return cache


@pytest.fixture()
def run(running_app):
    runner = running_app.app.test_cli_runner()

    def _run(*args):
        return runner.invoke(cli, ["cache", *args])

    return _run


def test_answers_are_cached_under_readable_keys(api, api_site, store):
    first = api("POST", URL, json=body("usage-delta-category"))
    key = f"stats-dashboard:v1:global:usage-delta-category:2024-01-01:{END.isoformat()}:-"
    assert list(store.keys()) == [key]
    second = api("POST", URL, json=body("usage-delta-category"))
    assert second.data == first.data
    assert store.info()["hits"] == 1 and store.info()["misses"] == 1
    # a settled range lives long, one reaching today short
    assert store.ttl(key) > 86400
    # the record categories are cached per date basis
    api("POST", URL, json=body("record-delta-category", date_basis="created"))
    assert (
        f"stats-dashboard:v1:global:record-delta-category:2024-01-01:{END.isoformat()}:created"
        in set(store.keys())
    )


def test_compressed_responses_are_kept_under_their_etag(api, api_site, store):
    """A repeated compressed request is sent as stored; it follows its entries' fate."""
    payload = {**body("usage-delta-category"), **body("record-snapshot-category")}
    plain = api("POST", URL, json=payload)
    first = api("POST", URL, json=payload, headers={"Accept-Encoding": "br"})
    (encoded_key,) = store.keys("stats-dashboard:v1:encoded:*")
    assert encoded_key.endswith(":br") and first.headers["ETag"] in (
        f'W/"{encoded_key.split(":")[3]}"',
    )
    hits = store.info()["hits"]
    second = api("POST", URL, json=payload, headers={"Accept-Encoding": "br"})
    assert second.headers["Content-Encoding"] == "br"
    assert brotli.decompress(second.data) == brotli.decompress(first.data) == plain.data
    assert second.headers["ETag"] == first.headers["ETag"] == plain.headers["ETag"]
    assert second.headers["Last-Modified"] == plain.headers["Last-Modified"]
    assert store.info()["hits"] == hits + 2
    # 304 from the entries' ETags alone
    again = api("POST", URL, json=payload, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    # once an entry is dropped, the stored response is not sent: the answer is computed again
    store.drop(pattern("global", "usage-delta-category"))
    misses = store.info()["misses"]
    third = api("POST", URL, json=payload, headers={"Accept-Encoding": "gzip"})
    assert store.info()["misses"] == misses + 1
    assert gzip.decompress(third.data) == plain.data


def test_incomplete_data_is_never_cached(api, api_site, store):
    """A range past the last aggregated day is answered, but not kept."""
    response = api("POST", URL, json=body("usage-delta-category", end="2024-02-15"))
    assert response.status_code == 200
    assert not list(store.keys())


def test_a_rewrite_of_past_days_drops_that_community_only(api, api_site, store):
    open_id, closed_id = api_site.communities["open"], api_site.communities["closed"]
    api("POST", URL, json=body("record-delta-category", open_id, end="2024-01-20"), user="owner")
    api("POST", URL, json=body("record-delta-category", open_id, end="2024-01-04"), user="owner")
    api("POST", URL, json=body("record-delta-category", closed_id), user="owner")
    assert len(list(store.keys())) == 3
    run_aggregations(community_ids=[open_id], start=date(2024, 1, 10), end=END)
    left = sorted(key.split(":")[2] + ":" + key.split(":")[5] for key in store.keys())
    # the open community's entry reaching a rewritten day is gone; the one before stays
    assert left == sorted([f"{open_id}:2024-01-04", f"{closed_id}:{END.isoformat()}"])


def test_cache_commands(api, api_site, store, run):
    open_slug = api_site.slugs["open"]
    open_id = api_site.communities["open"]
    for query in ("record-snapshot-category", "usage-snapshot-category"):
        api("POST", URL, json=body(query))
        api("POST", URL, json=body(query, open_id))
    api("POST", URL, json=body("community-record-snapshot-added"))

    listed = run("list")
    assert listed.exit_code == 0, listed.output
    assert "record-snapshot-category" in listed.output and open_id in listed.output
    assert len(run("list", "--limit", "2").output.splitlines()) == 2 + 2 + 1  # header, rule, more

    info = run("info")
    assert info.exit_code == 0
    assert "Entries               5\nCompressed responses  0\n" in info.output

    # the spec's example: the global record snapshots (category and raw documents) go
    cleared = run("clear-item", "global", "record_snapshots")
    assert cleared.exit_code == 0, cleared.output
    assert "Cleared 2 cache entries" in cleared.output
    assert {key.split(":")[3] for key in store.keys(pattern("global"))} == {
        "usage-snapshot-category"
    }
    cleared = run("clear-item", open_slug, "usage-snapshot-category")
    assert "Cleared 1 cache entries" in cleared.output
    bad = run("clear-item", "global", "nonsense")
    assert bad.exit_code == 2 and "unknown statistic 'nonsense'" in bad.output
    bad = run("clear-item", "no-such-community", "record_snapshots")
    assert bad.exit_code == 2 and "Community not found" in bad.output

    tested = run("test")
    assert tested.exit_code == 0 and "round trip" in tested.output

    assert run("clear-all").exit_code == 1  # asks; no answer on the test runner aborts
    cleared = run("clear-all", "--yes-i-know")
    assert cleared.exit_code == 0 and "Cleared 2 cache entries" in cleared.output
    assert not list(store.keys())


def test_warm_up_after_aggregation_and_generate(running_app, api_site, store, run):
    # aggregated through January 2024 only: a whole 2024 is not complete, nothing is kept
    generated = run("generate", "--community-id", "global", "--year", "2024")
    assert generated.exit_code == 0, generated.output
    assert "Cached 0 answers" in generated.output and "4 skipped" in generated.output
    # an aggregation run through today queues the warm-up (eager here): this year's four
    # dashboard queries of what it aggregated are cached
    app = running_app.app
    app.config["COMMUNITY_STATS_CACHE_WARM_AFTER_AGGREGATION"] = True
    try:
        run_aggregations(community_ids=["global"])
    finally:
        app.config["COMMUNITY_STATS_CACHE_WARM_AFTER_AGGREGATION"] = False
    assert len(list(store.keys())) == 4
    store.drop()
    generated = run("generate", "--community-id", "global")
    assert "Cached 4 answers" in generated.output, generated.output
    year = utc_today().year
    stats = {key.split(":")[3] for key in store.keys(pattern("global"))}
    assert stats == {
        "record-delta-category",
        "record-snapshot-category",
        "usage-delta-category",
        "usage-snapshot-category",
    }
    assert all(f":{year}-01-01:" in key for key in store.keys())
