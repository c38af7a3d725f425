"""The monthly item index follows new work: re-runs change nothing, late events are added,
a scheduled run writes only the new days."""

from datetime import date, datetime

from invenio_search import current_search_client
from invenio_search.engine import search as search_engine

from invenio_stats_dashboard.aggregations.service import run_aggregations
from invenio_stats_dashboard.core.bookmarks import AggregationBookmarks
from invenio_stats_dashboard.core.indices import counter_items_alias, raw_index
from invenio_stats_dashboard.counter.aggregation import COUNTER_ITEMS
from invenio_stats_dashboard.usage_events.migration import MigrationOptions, migrate
from invenio_stats_dashboard.usage_events.synthetic import RecordTarget, raw_event

from .conftest import END, expected_usage


def stored() -> dict[tuple, dict]:
    """``(community id, recid, access method, month) -> metrics`` of the monthly index."""
    current_search_client.indices.refresh(index=counter_items_alias())
    hits = current_search_client.search(
        index=counter_items_alias(), body={"size": 1000, "query": {"match_all": {}}}
    )["hits"]["hits"]
    return {
        (
            h["_source"]["community_id"],
            h["_source"]["recid"],
            h["_source"]["access_method"],
            h["_source"]["month"],
        ): h["_source"]["metrics"]
        for h in hits
    }


def as_expected(site) -> dict[tuple, dict]:
    """The brute force, keyed like :func:`stored`."""
    ids = {"global": "global", **site.communities}
    out = {}
    for (community, record, method, month), metrics in expected_usage().items():
        key = (ids[community], site.records[record]["id"], method, month)
        out[key] = {
            name: metrics.get(name, 0)
            for name in (
                "Total_Item_Investigations",
                "Unique_Item_Investigations",
                "Total_Item_Requests",
                "Unique_Item_Requests",
            )
        }
    return out


def test_reruns_late_events_and_new_days(counter_site):
    assert stored() == as_expected(counter_site)
    bookmarks = AggregationBookmarks()
    assert bookmarks.get(COUNTER_ITEMS.name, "global") == END

    # a run over days already written rewrites them to the same numbers
    run_aggregations(start=date(2024, 1, 1), end=END)
    assert stored() == as_expected(counter_site)

    # nothing new: a run writes nothing
    report = run_aggregations(end=END)
    assert report.counter is None

    # a late event of February (migrated late): the bookmark moves back, the month grows
    book = counter_site.records["book"]
    _id, doc = raw_event(
        RecordTarget.from_record(book), datetime(2024, 2, 20, 10, 0, 0), visitor=77
    )
    search_engine.helpers.bulk(
        current_search_client,
        [{"_index": raw_index("view", "2024-02"), "_id": _id, "_source": doc}],
        refresh=True,
    )
    migrate(MigrationOptions())
    assert AggregationBookmarks().get(COUNTER_ITEMS.name, "global") == date(2024, 2, 19)
    report = run_aggregations(end=END)
    assert report.counter is not None and report.counter.start == date(2024, 2, 20)
    expected = as_expected(counter_site)
    for community in ("global", counter_site.communities["open"]):
        expected[(community, book["id"], "Regular", "2024-02")] = {
            "Total_Item_Investigations": 1,
            "Unique_Item_Investigations": 1,
            "Total_Item_Requests": 0,
            "Unique_Item_Requests": 0,
        }
    assert stored() == expected
