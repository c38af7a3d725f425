"""Core commands: aggregate, aggregate-background, status, read, destroy-indices.

Thin wrappers: option parsing and output here, the work in ``aggregations`` and ``queries``.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import date, timedelta

import click
from flask.cli import with_appcontext
from opensearchpy.exceptions import TransportError

from ..aggregations.documents import document_day, flat_metrics
from ..aggregations.registry import by_query_type
from ..aggregations.service import (
    LOCK_NAME,
    AggregationError,
    RunProgress,
    check_may_run,
    clamp_end,
    run_aggregations,
)
from ..core.days import utc_today
from ..core.ids import GLOBAL, community_slugs
from ..core.units import count, duration, metric_value, signed, size
from ..membership.service import BACKFILL_LOCK
from ..usage_events.service import MIGRATION_LOCK
from .options import (
    DAY,
    check_range,
    community_ids_option,
    echo_json,
    format_option,
    pid_dir_option,
    progress_callback,
    render_table,
    require_enabled,
    start_background,
)

AGGREGATION_PROCESS = "aggregation"
AGGREGATION_TARGET = "invenio_stats_dashboard.aggregations.service:run_in_background"


class QueryTypeChoice(click.Choice):
    """The registered aggregations' query types (read when used, so every one is listed)."""

    def __init__(self):
        super().__init__([], case_sensitive=True)

    @property
    def choices(self):
        """Every query type, in aggregation order."""
        return list(by_query_type())

    @choices.setter
    def choices(self, value):
        pass


def _check_may_run(force: bool) -> None:
    try:
        bypassed = check_may_run(force)
    except AggregationError as error:
        raise click.ClickException(str(error)) from None
    if bypassed:
        click.echo(
            "--force: bypassing the COMMUNITY_STATS_SCHEDULED_TASKS_ENABLED check.", err=True
        )


# --------------------------------------------------------------------------- aggregate
def _clamped_end(end_date: date | None) -> date | None:
    """A future end day becomes today, with a notice on stderr."""
    end, notice = clamp_end(end_date)
    if notice:
        click.echo(notice, err=True)
    return end


def _scope(community_ids: list[str]) -> str:
    """``12 communities and global``, ``1 community``, ``global``."""
    communities = len([c for c in community_ids if c != GLOBAL])
    text = f"{count(communities)} {'community' if communities == 1 else 'communities'}"
    if GLOBAL not in community_ids:
        return text
    return "global" if not communities else f"{text} and global"


def _print_report(report, verbose: bool) -> None:
    for notice in report.notices:
        click.echo(notice, err=True)
    click.echo(
        f"Aggregated {_scope(report.community_ids)}: {count(report.documents)} documents "
        f"in {duration(report.seconds)}."
    )
    if report.counter is not None:
        outcome = report.counter
        click.echo(
            f"COUNTER item usage: {outcome.start} to {outcome.end}, "
            f"{count(outcome.documents)} monthly item documents written."
        )
    if report.limited:
        click.echo(
            "The catch-up limit (COMMUNITY_STATS_CATCHUP_INTERVAL) stopped some series early; "
            "run aggregate again to continue."
        )
    if verbose:
        width = max((len(name) for name in report.timings), default=10)
        for name, seconds in report.timings.items():
            per = report.results.get(name, {})
            documents = sum(o.documents for o in per.values())
            extra = f"{documents:>8} docs" if name in report.results else ""
            click.echo(f"  {name:<{width}}  {seconds:8.2f}s {extra}")


@click.command("aggregate")
@community_ids_option(
    help="Community UUID or slug (repeatable; default: every community and global)."
)
@click.option("--start-date", type=DAY, help="First day (default: each series' first day).")
@click.option("--end-date", type=DAY, help="Last day (default: today, UTC).")
@click.option(
    "--eager",
    is_flag=True,
    help="Run here and now instead of as a Celery task (which "
    "COMMUNITY_STATS_AGGREGATION_TASKS may split over several workers).",
)
@click.option(
    "--update-bookmark/--no-update-bookmark",
    default=True,
    show_default=True,
    help="Move the progress bookmarks after aggregating.",
)
@click.option("--ignore-bookmark", is_flag=True, help="Start from the first day of each series.")
@click.option("--verbose", "-v", is_flag=True, help="Show timing per aggregator.")
@click.option(
    "--force",
    is_flag=True,
    help="Run even when COMMUNITY_STATS_SCHEDULED_TASKS_ENABLED is False.",
)
@with_appcontext
def aggregate(
    community_ids, start_date, end_date, eager, update_bookmark, ignore_bookmark, verbose, force
):
    """Aggregate record and usage statistics into the daily indices.

    Writes every day from the bookmarks (or --start-date) through --end-date (default
    today) in one run; the catch-up limit COMMUNITY_STATS_CATCHUP_INTERVAL applies to
    the scheduled task only.
    """
    _check_may_run(force)
    end_date = _clamped_end(end_date)
    check_range(start_date, end_date)
    ids = community_ids
    if not eager:
        from ..aggregations.tasks import aggregate_community_stats

        result = aggregate_community_stats.delay(
            community_ids=ids,
            start_date=start_date.isoformat() if start_date else None,
            end_date=end_date.isoformat() if end_date else None,
            update_bookmark=update_bookmark,
            ignore_bookmark=ignore_bookmark,
            force=True,
        )
        click.echo(f"Aggregation queued as Celery task {result.id}.")
        if result.ready() and verbose:
            click.echo(json.dumps(result.result, indent=2))
        return
    try:
        with _progress(ids) as heartbeat:
            report = run_aggregations(
                community_ids=ids,
                start=start_date,
                end=end_date,
                update_bookmark=update_bookmark,
                ignore_bookmark=ignore_bookmark,
                heartbeat=heartbeat,
            )
    except AggregationError as error:
        raise click.ClickException(str(error)) from None
    _print_report(report, verbose)


@contextmanager
def _progress(community_ids: list[str] | None):
    """The run's heartbeat as a bar, or as progress lines off a terminal."""
    with progress_callback(True, "Aggregating") as progress:
        yield RunProgress(community_ids, progress)


# --------------------------------------------------------------------------- background
@click.command("aggregate-background")
@community_ids_option(
    help="Community UUID or slug (repeatable; default: every community and global)."
)
@click.option("--start-date", type=DAY, help="First day (default: each series' first day).")
@click.option("--end-date", type=DAY, help="Last day (default: today, UTC).")
@click.option("--update-bookmark/--no-update-bookmark", default=True, show_default=True)
@click.option("--ignore-bookmark", is_flag=True, help="Start from the first day of each series.")
@click.option("--force", is_flag=True, help="Run even when scheduled tasks are disabled.")
@pid_dir_option
@with_appcontext
def aggregate_background(
    community_ids, start_date, end_date, update_bookmark, ignore_bookmark, force, pid_dir
):
    """Run the aggregation as a background process named ``aggregation``."""
    _check_may_run(force)
    end_date = _clamped_end(end_date)
    check_range(start_date, end_date)
    params = {
        "community_ids": community_ids,
        "start_date": start_date.isoformat() if start_date else None,
        "end_date": end_date.isoformat() if end_date else None,
        "update_bookmark": update_bookmark,
        "ignore_bookmark": ignore_bookmark,
    }
    start_background(pid_dir, AGGREGATION_PROCESS, AGGREGATION_TARGET, params)


# --------------------------------------------------------------------------- status
STATUS_LEGEND = """\
Records, Files, Volume: on the last day of the records snapshot ("added" basis).
Views, Downloads: all-time totals on the last day of the usage snapshot.
Last day: the oldest last document of the community's series; Lag: days from it to today.
Series: series with a document for every day from their first to their last / all series.
Every run rewrites the days after each bookmark: bookmarks stop at the last settled day
(yesterday for records, the day before yesterday for usage), a day or two behind the last
document. -: not aggregated yet."""


def _figure(name: str, value) -> str:
    if value is None:
        return "-"
    return size(value) if name == "volume" else count(value)


def _day(value: date | None) -> str:
    return value.isoformat() if value else "-"


def _status_table(statuses, labels: dict[str, str], today: date) -> str:
    headers = ["Community", "Records", "Files", "Volume", "Views", "Downloads"]
    headers += ["Last day", "Lag", "Series"]
    rows = []
    for item in statuses:
        totals = item.totals
        lag = item.lag(today)
        rows.append(
            [
                labels[item.community_id],
                *(_figure(name, totals.get(name)) for name in STATUS_FIGURES),
                _day(item.last),
                "-" if lag is None else f"{lag}d",
                f"{item.complete()}/{len(item.series)}",
            ]
        )
    return render_table(headers, rows)


def _bar(share: float, width: int = 10) -> str:
    filled = int(round(share * width))
    return "█" * filled + "░" * (width - filled)


def _series_table(item, today: date) -> str:
    rows = []
    for series in item.series:
        aggregator = series.aggregator
        if not series.index_exists or not series.documents:
            missing = since = coverage = "-"
        else:
            missing = count(series.missing_days())
            since = f"{series.days_since_last(today)}d"
            share = series.completeness(today)
            coverage = f"{_bar(share)} {int(share * 100)}%"
        rows.append(
            [
                aggregator.short_name,
                count(series.documents) if series.index_exists else "no index",
                _day(series.first),
                _day(series.last),
                since,
                _day(series.bookmark),
                missing,
                coverage,
            ]
        )
    headers = ["Series", "Documents", "First", "Last", "Since last", "Bookmark", "Missing"]
    return render_table([*headers, "Coverage"], rows)


def _status_json(statuses, labels: dict[str, str], today: date) -> dict:
    def day(value):
        return value.isoformat() if value else None

    return {
        "today": today.isoformat(),
        "communities": [
            {
                "community_id": item.community_id,
                "slug": labels[item.community_id],
                "last_day": day(item.last),
                "lag_days": item.lag(today),
                "complete_series": item.complete(),
                "totals": item.totals,
                "series": [
                    {
                        "name": series.aggregator.name,
                        "query_type": series.aggregator.query_type,
                        "index": series.aggregator.alias,
                        "index_exists": series.index_exists,
                        "documents": series.documents,
                        "first_day": day(series.first),
                        "last_day": day(series.last),
                        "bookmark": day(series.bookmark),
                    }
                    for series in item.series
                ],
            }
            for item in statuses
        ],
    }


STATUS_FIGURES = ("records", "files", "volume", "views", "downloads")


@click.command("status")
@community_ids_option(
    help="Community UUID or slug (repeatable; default: every community and global).",
)
@click.option("--verbose", "-v", is_flag=True, help="Also each series of each community, grouped.")
@format_option("text", "json")
@with_appcontext
def status(community_ids, verbose, output_format):
    """Aggregation status: one line per community (totals, last day, lag), with a legend.

    --verbose adds each community's series (documents, first and last day, bookmark,
    missing days); --format json gives all of it for scripts.
    """
    from ..aggregations.status import community_status

    require_enabled()
    labels = community_slugs(community_ids)
    statuses = community_status(list(labels))
    today = utc_today()
    if output_format == "json":
        echo_json(_status_json(statuses, labels, today))
        return
    click.echo(f"Statistics status on {today.isoformat()} (UTC)\n")
    click.echo(_status_table(statuses, labels, today))
    if verbose:
        for item in statuses:
            heading = labels[item.community_id]
            if item.community_id != GLOBAL:
                heading = f"{heading} ({item.community_id})"
            click.echo(f"\n{heading}")
            for line in _series_table(item, today).splitlines():
                click.echo(f"  {line}")
    click.echo("")
    click.echo(STATUS_LEGEND)
    if verbose:
        click.echo(
            "Missing: days without a document between the series' first and last day.\n"
            "Coverage: share of the days from the series' first document to today that have one."
        )


# --------------------------------------------------------------------------- read
def _metric_table(documents: list[dict]) -> tuple[list[dict], list[str], int]:
    """Each document's metrics flattened (subcounts aside), their names, the name width."""
    flats = [flat_metrics({k: v for k, v in d.items() if k != "subcounts"}) for d in documents]
    metrics = list(dict.fromkeys(k for flat in flats for k in flat))
    return flats, metrics, max((len(m) for m in metrics), default=0)


def _render_table(query_type: str, documents: list[dict]) -> list[str]:
    lines = [f"== {query_type} ({len(documents)} days)"]
    if not documents:
        return [*lines, "   no data in this range"]
    for block_start in range(0, len(documents), 7):
        block = documents[block_start : block_start + 7]
        flats, metrics, width = _metric_table(block)
        lines.append(
            f"   {'':<{width}}" + "".join(f"{document_day(d).isoformat():>12}" for d in block)
        )
        for metric in metrics:
            values = "".join(f"{metric_value(metric, flat.get(metric, 0)):>12}" for flat in flats)
            lines.append(f"   {metric:<{width}}{values}")
    last = documents[-1]
    subcounts = {k: v for k, v in (last.get("subcounts") or {}).items() if v}
    if subcounts:
        lines.append(f"   subcounts on {document_day(last).isoformat()} (first 5 of each):")
        for key, items in subcounts.items():
            if isinstance(items, dict):  # usage "top" kinds: {by_view: [...], by_download: [...]}
                items = next(iter(items.values()), [])
            lines.append(f"     {key}: {', '.join(_item_summary(item) for item in items[:5])}")
    return lines


def _render_summary(query_type: str, documents: list[dict]) -> list[str]:
    """One query type in a few lines (the combined answer of ``read``).

    A delta: the sums of its additive metrics over the range (daily distinct counts do
    not add up, so they are left to ``--query-type``); a snapshot: its first and last
    day and the change between them.
    """
    if not documents:
        return [f"== {query_type}: no data in this range"]
    first, last = documents[0], documents[-1]
    first_day, last_day = document_day(first).isoformat(), document_day(last).isoformat()
    span = f"{first_day} to {last_day}, {len(documents)} days"
    flats, metrics, width = _metric_table(documents)
    if "snapshot_date" in last:
        lines = [f"== {query_type} ({span})"]
        lines.append(f"   {'':<{width}}{first_day:>14}{last_day:>14}{'change':>14}")
        for metric in metrics:
            start, end = flats[0].get(metric, 0), flats[-1].get(metric, 0)
            lines.append(
                f"   {metric:<{width}}{metric_value(metric, start):>14}"
                f"{metric_value(metric, end):>14}{signed(metric, end - start):>14}"
            )
    else:
        lines = [f"== {query_type} ({span}; sums)"]
        for metric in metrics:
            if not _is_distinct_count(metric):
                total = sum(flat.get(metric, 0) for flat in flats)
                lines.append(f"   {metric:<{width}}{metric_value(metric, total):>14}")
    return lines


def _is_distinct_count(metric: str) -> bool:
    """Daily distinct counts (uploaders, unique visitors, records, ...) are not additive."""
    name = metric.rsplit(".", 1)[-1]
    return name == "uploaders" or name.startswith("unique_")


def _item_summary(item: dict) -> str:
    """``label [id]: records`` of one subcount item (``+added -removed`` for deltas)."""
    ident, label = item.get("id"), item.get("label") or item.get("id")
    text = label if label == ident else f"{label} [{ident}]"
    records = item.get("records")
    if isinstance(records, dict) and "added" in records:
        added = sum(records["added"].values())
        removed = sum(records["removed"].values())
        return f"{text}: +{added} -{removed}"
    if isinstance(records, dict):
        return f"{text}: {sum(records.values())}"
    return text


@click.command("read")
@community_ids_option(help="Community UUID or slug (repeatable; default: global).")
@click.option("--start-date", type=DAY, help="First day (default: yesterday, UTC).")
@click.option("--end-date", type=DAY, help="Last day (default: today, UTC).")
@click.option(
    "--query-type",
    type=QueryTypeChoice(),
    default=None,
    help="One statistic, day by day (default: every statistic, summed up).",
)
@format_option("text", "json", "csv")
@with_appcontext
def read(community_ids, start_date, end_date, query_type, output_format):
    """Read the daily statistics of communities (or global) over a date range.

    Without --query-type: every statistic in a few lines (deltas summed over the range,
    snapshots on the first and last day). With it: that statistic day by day, with the
    last day's subcounts. --format json gives every document in full (a list of answers
    for several communities); --format csv one statistic (--query-type) as a table, a
    row per community and day, as the API's CSV.
    """
    from ..aggregations.documents import read_stats

    require_enabled()
    today = utc_today()
    start = start_date or today - timedelta(days=1)
    end = end_date or today
    check_range(start, end)
    if output_format == "csv" and not query_type:
        raise click.UsageError("--format csv holds one statistic: add --query-type NAME.")
    ids = community_ids or [GLOBAL]
    answers = [
        (community_id, read_stats(community_id, start, end, query_type)) for community_id in ids
    ]
    if output_format == "csv":
        from ..queries.tables import documents_table, to_csv

        documents = [doc for _, results in answers for doc in results[query_type]]
        click.echo(to_csv(*documents_table(documents)).decode(), nl=False)
        return
    if output_format == "json":
        payloads = [
            {
                "community_id": community_id,
                "start_date": start.isoformat(),
                "end_date": end.isoformat(),
                "results": results,
            }
            for community_id, results in answers
        ]
        echo_json(payloads[0] if len(payloads) == 1 else payloads)
        return
    labels = community_slugs(ids)
    render = _render_table if query_type else _render_summary
    for position, (community_id, results) in enumerate(answers):
        label = "global" if community_id == GLOBAL else f"{labels[community_id]} ({community_id})"
        click.echo(("\n" if position else "") + f"Statistics for {label}, {start} to {end}")
        for name, documents in results.items():
            for line in render(name, documents):
                click.echo(line)
    if not query_type:
        click.echo(SUMMARY_NOTE)


SUMMARY_NOTE = """\
Deltas are summed over every day of the range; a snapshot's change is from the first day
to the last, so the first day's delta is in the sums but not in the change.
Day by day, with subcounts: add --query-type NAME (or --format json)."""


# --------------------------------------------------------------------------- destroy
@click.command("destroy-indices")
@click.option("--yes-i-know", is_flag=True, help="Do not ask for confirmation.")
@click.option("--force", is_flag=True, help="Ignore indices that vanish before deletion (404).")
@with_appcontext
def destroy_indices_command(yes_i_know, force):
    """Delete every search index of this package (statistics, history, enriched events)."""
    from ..search.setup import destroy_indices, indices_to_destroy

    require_enabled()
    names = indices_to_destroy()
    if not names:
        click.echo("No invenio-stats-dashboard indices to delete.")
        return
    click.echo("These indices will be deleted permanently:")
    for name in names:
        click.echo(f"  {name}")
    click.echo("Raw usage events and invenio-stats' per-record aggregations are kept.")
    if not yes_i_know:
        click.confirm(f"Delete these {len(names)} indices?", abort=True)
    try:
        deleted = destroy_indices(names, ignore_missing=force)
    except TransportError as error:  # a 404 without --force, a cluster error
        raise click.ClickException(f"Deletion stopped: {error}") from None
    click.echo(f"Deleted {len(deleted)} indices.")


# --------------------------------------------------------------------------- locks
LOCKS = {
    "aggregation": LOCK_NAME,
    "membership-backfill": BACKFILL_LOCK,
    "usage-migration": MIGRATION_LOCK,
}
"""``clear-lock`` names -> locks (of aggregate, community-events generate, usage-events migrate)."""


@click.command("clear-lock")
@click.argument("name", type=click.Choice(list(LOCKS)), default="aggregation")
@click.option("--yes-i-know", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def clear_lock_command(name, yes_i_know):
    """Free a run lock whose holder will not release it (e.g. a run on a lost host).

    A run on the holder's own host takes over the lock of a dead holder by itself; this
    is for the rest. Clearing the lock of a run that is still going lets a second run
    start beside it.
    """
    from ..aggregations.service import PART_LOCK_PREFIX
    from ..core.locks import clear_lock, clear_locks, current_holder, held_locks

    holders = [current_holder(LOCKS[name])]
    if name == "aggregation":  # and the parts of a run split over Celery workers
        holders += held_locks(PART_LOCK_PREFIX)
    holders = [holder for holder in holders if holder is not None]
    if not holders:
        click.echo(f"The {name} lock is free.")
        return
    for holder in holders:
        click.echo(f"The {name} lock is held by {holder.describe()}.")
    if not yes_i_know:
        click.confirm("Clear it?", abort=True)
    clear_lock(LOCKS[name])
    if name == "aggregation":
        clear_locks(PART_LOCK_PREFIX)
    click.echo(f"Cleared the {name} lock.")


CORE_COMMANDS: list = [
    aggregate,
    aggregate_background,
    status,
    read,
    destroy_indices_command,
    clear_lock_command,
]
"""Click commands added directly under ``invenio community-stats``."""
