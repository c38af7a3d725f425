"""Core commands: aggregate, aggregate-background, status, read, destroy-indices.

Thin wrappers: option parsing and output here, the work in ``aggregations`` and ``queries``.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from datetime import date, timedelta

import click
from flask.cli import with_appcontext
from opensearchpy.exceptions import TransportError

from ..aggregations.documents import document_day, flat_metrics
from ..aggregations.registry import aggregators, batches, by_query_type
from ..aggregations.service import (
    AggregationError,
    all_community_ids,
    check_may_run,
    run_aggregations,
)
from ..core.days import utc_today
from ..core.ids import GLOBAL, CommunityNotFound, community_slugs, resolve_community_id
from .options import (
    DAY,
    check_range,
    community_ids_option,
    pid_dir_option,
    require_enabled,
    start_background,
)

BAR_WIDTH = 30
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
def _print_report(report, verbose: bool) -> None:
    click.echo(
        f"Aggregated {len(report.community_ids)} communities (global included): "
        f"{report.documents} documents in {report.seconds:.1f}s."
    )
    if report.counter is not None:
        outcome = report.counter
        click.echo(
            f"COUNTER item usage: {outcome.start} to {outcome.end}, "
            f"{outcome.documents} monthly item documents written."
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
@click.option("--eager", is_flag=True, help="Run here and now instead of as a Celery task.")
@click.option(
    "--update-bookmark/--no-update-bookmark",
    default=True,
    show_default=True,
    help="Move the progress bookmarks after aggregating.",
)
@click.option("--ignore-bookmark", is_flag=True, help="Start from the first day of each series.")
@click.option("--verbose", is_flag=True, help="Show timing per aggregator.")
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
    """A progress bar over communities x aggregation batches, on a terminal only."""
    if not sys.stdout.isatty():
        yield None
        return
    communities = community_ids or all_community_ids()
    with click.progressbar(
        length=len(communities) * len(batches(aggregators())), label="Aggregating", file=sys.stderr
    ) as bar:
        yield lambda: bar.update(1)


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
def _bar(share: float, width: int = BAR_WIDTH) -> str:
    filled = int(round(share * width))
    return "█" * filled + "░" * (width - filled)


def _ago(days: int | None) -> str:
    if days is None:
        return "never"
    return "today" if days <= 0 else f"{days}d ago"


def _status_line(status, today: date) -> str:
    name = status.aggregator.short_name
    if not status.index_exists:
        return f"{name:<26} [No index]"
    if not status.documents:
        return f"{name:<26} [No data]"
    share = status.completeness(today)
    return f"{name:<26} [{_bar(share)}] {int(share * 100)}% ({_ago(status.days_since_last(today))})"


def _status_block(status, today: date) -> list[str]:
    aggregator = status.aggregator
    lines = [f"{aggregator.short_name} ({aggregator.index})"]
    if not status.index_exists:
        return [*lines, "  No index"]

    def show(value):
        return value.isoformat() if isinstance(value, date) else str(value)

    share = status.completeness(today)
    rows = [
        ("Bookmark", show(status.bookmark) if status.bookmark else "none"),
        ("Documents", str(status.documents)),
        ("First document", show(status.first) if status.first else "none"),
        ("Last document", show(status.last) if status.last else "none"),
        ("Days since last", str(status.days_since_last(today)) if status.last else "n/a"),
        ("Completeness", f"[{_bar(share)}] {int(share * 100)}%"),
    ]
    return [*lines, *(f"  {label + ':':<18} {value}" for label, value in rows)]


@click.command("status")
@community_ids_option(
    "--community-id",
    "-c",
    help="Community UUID or slug (repeatable; default: every community and global).",
)
@click.option("--verbose", "-v", is_flag=True, help="Show details for each aggregation.")
@with_appcontext
def status(community_ids, verbose):
    """Aggregation status: bookmarks, documents, first/last days, completeness."""
    from ..aggregations.status import collect_status

    require_enabled()
    labels = community_slugs(community_ids)
    statuses = collect_status(list(labels))
    today = utc_today()
    for community_id, label in labels.items():
        heading = "Global (all records)" if community_id == GLOBAL else f"{label} ({community_id})"
        click.echo(f"Community: {heading}")
        click.echo("-" * 60)
        for item in statuses[community_id]:
            if verbose:
                for line in _status_block(item, today):
                    click.echo(f"  {line}")
            else:
                click.echo(_status_line(item, today))
        click.echo("")


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
            values = "".join(f"{flat.get(metric, 0):>12}" for flat in flats)
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
            lines.append(f"   {metric:<{width}}{start:>14}{end:>14}{end - start:>+14}")
    else:
        lines = [f"== {query_type} ({span}; sums)"]
        for metric in metrics:
            if not _is_distinct_count(metric):
                total = sum(flat.get(metric, 0) for flat in flats)
                lines.append(f"   {metric:<{width}}{total:>14}")
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
@click.option("--community-id", default=GLOBAL, show_default=True, help="Community UUID or slug.")
@click.option("--start-date", type=DAY, help="First day (default: yesterday, UTC).")
@click.option("--end-date", type=DAY, help="Last day (default: today, UTC).")
@click.option(
    "--query-type",
    type=QueryTypeChoice(),
    default=None,
    help="One statistic, day by day (default: every statistic, summed up).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Readable tables, or JSON for scripts.",
)
@with_appcontext
def read(community_id, start_date, end_date, query_type, output_format):
    """Read the daily statistics of a community (or global) over a date range.

    Without --query-type: every statistic in a few lines (deltas summed over the range,
    snapshots on the first and last day). With it: that statistic day by day, with the
    last day's subcounts. --format json gives every document in full.
    """
    from ..aggregations.documents import read_stats

    require_enabled()
    today = utc_today()
    start = start_date or today - timedelta(days=1)
    end = end_date or today
    check_range(start, end)
    try:
        resolved = resolve_community_id(community_id)
    except CommunityNotFound as error:
        raise click.BadParameter(str(error), param_hint="'--community-id'") from None
    results = read_stats(resolved, start, end, query_type)
    if output_format == "json":
        payload = {
            "community_id": resolved,
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
            "results": results,
        }
        json.dump(payload, sys.stdout, indent=2, default=str)
        click.echo("")
        return
    label = "global" if resolved == GLOBAL else f"{community_id} ({resolved})"
    click.echo(f"Statistics for {label}, {start} to {end}")
    render = _render_table if query_type else _render_summary
    for name, documents in results.items():
        for line in render(name, documents):
            click.echo(line)
    if not query_type:
        click.echo("Day by day, with subcounts: add --query-type NAME (or --format json).")


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


CORE_COMMANDS: list = [aggregate, aggregate_background, status, read, destroy_indices_command]
"""Click commands added directly under ``invenio community-stats``."""
