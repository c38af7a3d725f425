"""Unit tests of the pure parts: date bases, the run window (membership: test_model_rule)."""

from datetime import date

from invenio_stats_dashboard.aggregations.records.engine import Membership, counted_intervals

D = date


def test_date_bases():
    joined_late = Membership(
        intervals=[(D(2024, 3, 1), D(2024, 4, 1)), (D(2024, 5, 1), None)],
        created=D(2024, 1, 10),
        published=D(2019, 1, 1),
    )
    early = D(2000, 1, 1)
    assert counted_intervals(joined_late, "added", False, early) == joined_late.intervals
    assert counted_intervals(joined_late, "created", False, early) == [
        (D(2024, 1, 10), D(2024, 4, 1)),
        (D(2024, 5, 1), None),
    ]
    # global: the added basis is the created day
    assert counted_intervals(joined_late, "added", True, early)[0] == (
        D(2024, 1, 10),
        D(2024, 4, 1),
    )
    # folded onto the earliest date
    assert counted_intervals(joined_late, "published", False, D(2020, 1, 1))[0] == (
        D(2020, 1, 1),
        D(2024, 4, 1),
    )
    # a basis day after the membership ended: never counted in that interval
    later = Membership(intervals=[(D(2024, 1, 1), D(2024, 2, 1))], created=D(2024, 3, 1))
    assert counted_intervals(later, "created", False, early) == []
    # an interval entirely before the earliest date disappears
    old = Membership(intervals=[(D(1990, 1, 1), D(1995, 1, 1))], created=D(1990, 1, 1))
    assert counted_intervals(old, "created", False, early) == []


class MemoryBookmarks:
    """A bookmark store in a dict (the rules of ``RunContext`` need no search engine)."""

    def __init__(self, **values):
        self.values = dict(values)

    def get(self, name, community_id):
        return self.values.get(name)

    def set(self, name, community_id, day):
        self.values[name] = day

    def set_many(self, name, days):
        for community_id, day in days.items():
            self.set(name, community_id, day)


def test_window_and_bookmark_rules(app):
    from invenio_stats_dashboard.aggregations.registry import get_aggregator
    from invenio_stats_dashboard.aggregations.run import RunContext

    delta = get_aggregator("community-records-delta-created")
    snapshot = get_aggregator("community-records-snapshot-created")
    first = D(2024, 1, 1)
    today = D(2024, 3, 1)

    def ctx(store, **options):
        return RunContext(bookmarks=store, today=today, **options)

    # resume the day after the bookmark; a catch-up limit (the scheduled task's) caps the
    # new days, a run without one (the command line) writes through today
    store = MemoryBookmarks(**{delta.name: D(2024, 1, 31)})
    window = ctx(store, catchup_limit=10).window(delta, "c", first)
    assert (window.start, window.end, window.limited) == (D(2024, 2, 1), D(2024, 2, 10), True)
    window = ctx(store).window(delta, "c", first)
    assert (window.start, window.end, window.limited) == (D(2024, 2, 1), today, False)
    # a range after a gap is written but does not move the bookmark
    run = ctx(store, start=D(2024, 2, 10), end=D(2024, 2, 20))
    window = run.window(delta, "c", first)
    assert not window.connects
    run.finish(delta, "c", window, 11)
    assert store.values[delta.name] == D(2024, 1, 31)
    # nor does a never-aggregated series written from the middle
    fresh = MemoryBookmarks()
    run = ctx(fresh, start=D(2024, 2, 1))
    run.finish(delta, "c", run.window(delta, "c", first), 1)
    assert delta.name not in fresh.values
    # re-running an old range never moves a bookmark back
    run = ctx(store, start=D(2024, 1, 5), end=D(2024, 1, 6))
    run.finish(delta, "c", run.window(delta, "c", first), 2)
    assert store.values[delta.name] == D(2024, 1, 31)
    # a snapshot stops where its delta is; without a delta it does not run
    assert ctx(store).window(snapshot, "c", first).end == D(2024, 1, 31)
    assert ctx(MemoryBookmarks()).window(snapshot, "c", first) is None
    # days before the series start are never written; no data, no window
    assert ctx(MemoryBookmarks(), start=D(2023, 1, 1)).window(delta, "c", first).start == first
    assert ctx(MemoryBookmarks()).window(delta, "c", None) is None
