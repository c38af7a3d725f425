"""Communities with nothing new since their records bookmarks: their new days are copies.

A records series changes only on the days a member record enters or leaves, and a
snapshot's numbers also depend on its records' facts. So when, for one community,

- no history event counts from a day after its bookmarks (its own day, or its record's
  created or publication day),
- none of its records (by its history) changed since the snapshots at its bookmarks
  were computed or last checked (their ``timestamp``; the records' ``updated``, looked at
  ``COMMUNITY_STATS_RECORDS_EDIT_MARGIN`` seconds further back for clock skew and
  indexing lag), and
- each aggregation's subcount settings are those of its last complete run,

every new day is the bookmark day's snapshot again and an empty delta: exactly what
reading the community's history and records would give. A copy's ``timestamp`` is the
moment of that check, so the next run looks for edits from there (the look-back stays
one run long, however long ago the numbers were first computed). Such communities cost no reads
of their own: one history aggregation, a paged read of the records changed lately and
``ids`` reads of the snapshots at the bookmarks serve every community of the run, so
an hourly run's requests follow the communities with news, not the number of
communities.

Only runs that go on from their bookmarks use this (no ``--start-date``, no
``--ignore-bookmark``); everything else reads, as a first run does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from ...core.days import to_datetime, utc_now
from ...core.engine import search_client
from ...core.paging import chunks, search
from ...membership.store import communities_by_record, latest_change_days
from ..registry import Aggregator, doc_id
from ..run import RunContext
from .sources import edit_margin, latest_edits

SNAPSHOTS_PER_READ = 200
"""Stored snapshots per ``ids`` read (they can be large: "all" subcounts)."""


def settings_key(aggregator: Aggregator) -> str:
    """Name of the stored setting: the subcounts an aggregation's last complete run used."""
    return f"subcounts::{aggregator.name}"


@dataclass
class Unchanged:
    """What a community's new days are copied from."""

    bookmarks: dict[str, date]
    """Aggregation name -> its bookmark (the day copied)."""
    snapshots: dict[str, dict]
    """Snapshot aggregation name -> its stored document at the bookmark."""
    checked: datetime | None = None
    """When its records were last checked for edits (the copies' ``timestamp``)."""


def unchanged_communities(
    aggregators: list[Aggregator], ctx: RunContext, community_ids: list[str], settings: str
) -> dict[str, Unchanged]:
    """The communities (of ``community_ids``) whose new days can be copies."""
    if ctx.start is not None or ctx.ignore_bookmark:
        return {}
    if any(ctx.bookmarks.get_setting(settings_key(a)) != settings for a in aggregators):
        return {}
    marks: dict[str, dict[str, date]] = {}
    for community_id in community_ids:
        found = {a.name: ctx.bookmarks.get(a.name, community_id) for a in aggregators}
        if all(day is not None and day >= ctx.earliest for day in found.values()):
            marks[community_id] = found
    if not marks:
        return {}
    since = min(min(found.values()) for found in marks.values()) + timedelta(days=1)
    changed = latest_change_days(since)
    marks = {
        cid: found
        for cid, found in marks.items()
        if changed.get(cid, date.min) <= min(found.values())
    }
    snapshots = _stored_snapshots([a for a in aggregators if a.kind == "snapshot"], marks)
    unchanged = {
        cid: Unchanged(found, snapshots.get(cid, {}))
        for cid, found in marks.items()
        if all(a.kind != "snapshot" or a.name in snapshots.get(cid, {}) for a in aggregators)
    }
    computed: dict[str, datetime] = {}
    for cid, entry in list(unchanged.items()):
        moments = [to_datetime(doc.get("timestamp")) for doc in entry.snapshots.values()]
        if None in moments:
            del unchanged[cid]  # not written by this package's runs: read instead
        elif moments:
            computed[cid] = min(moments)
    if computed:
        margin = edit_margin()
        checked = utc_now()
        edits = latest_edits(min(computed.values()) - margin)
        latest: dict[str, datetime] = {}
        for record_id, communities in communities_by_record(edits).items():
            for cid in communities:
                latest[cid] = max(latest.get(cid, edits[record_id]), edits[record_id])
        for cid, moment in computed.items():
            edited = latest.get(cid)
            if edited is not None and edited >= moment - margin:
                del unchanged[cid]
            else:
                unchanged[cid].checked = checked
    return unchanged


def _stored_snapshots(
    aggregators: list[Aggregator], marks: dict[str, dict[str, date]]
) -> dict[str, dict[str, dict]]:
    """``community -> aggregation name -> stored snapshot`` at each bookmark."""
    found: dict[str, dict[str, dict]] = {}
    for aggregator in aggregators:
        ids = [doc_id(cid, days[aggregator.name]) for cid, days in marks.items()]
        for chunk in chunks(ids, SNAPSHOTS_PER_READ):
            response = search(
                search_client,
                aggregator.alias,
                {"size": len(chunk), "query": {"ids": {"values": chunk}}},
                ignore_unavailable=True,
                allow_no_indices=True,
            )
            for hit in response["hits"]["hits"]:
                source = hit["_source"]
                found.setdefault(source["community_id"], {})[aggregator.name] = source
    return found
