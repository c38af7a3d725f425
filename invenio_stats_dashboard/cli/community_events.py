"""``invenio community-stats community-events ...``."""

from __future__ import annotations

import functools

import click
from flask.cli import with_appcontext

from ..core.ids import GLOBAL
from ..core.units import count
from ..membership.service import community_details as community_details_of
from ..membership.service import community_events_status, generate_community_events
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
    split_values,
    start_background,
)

GENERATION_PROCESS = "community-event-generation"
GENERATION_TARGET = "invenio_stats_dashboard.membership.service:generate_community_events"


def _split(ctx, param, values):
    return split_values(values)


def _extra_record_ids(func):
    """Let ``--record-ids a b c`` work as the spec writes it.

    Click options take one value each: the values after the first are arguments, taken
    here as more record ids.
    """

    @functools.wraps(func)
    def wrapper(*args, more_record_ids=(), record_ids=(), **kwargs):
        extra = split_values(more_record_ids)
        if extra and not record_ids:
            raise click.UsageError(f"Got unexpected extra arguments ({' '.join(extra)})")
        return func(*args, record_ids=tuple(dict.fromkeys((*record_ids, *extra))), **kwargs)

    return click.argument("more_record_ids", nargs=-1, metavar="[RECORD_ID]...")(wrapper)


def filter_options(func):
    """The record/community/date filters shared by generate, status and background."""
    func = _extra_record_ids(func)
    options = [
        community_ids_option(
            help="Community UUID or slug (repeatable; 'global' for the instance series)."
        ),
        click.option(
            "--record-ids",
            "record_ids",
            multiple=True,
            callback=_split,
            help="Record PID or UUID (repeatable, a comma-separated list, or several values).",
        ),
        click.option(
            "--start-date",
            type=DAY,
            help="First record creation day. Default: the earliest record.",
        ),
        click.option(
            "--end-date",
            type=DAY,
            help="Last record creation day (inclusive). Default: today.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _check_filters(start_date, end_date, record_ids=()) -> None:
    """Refuse bad filters before any work: a reversed range, unknown record ids (exit 2)."""
    from ..membership.sources import unknown_record_ids

    require_enabled()
    check_range(start_date, end_date)
    unknown = unknown_record_ids(record_ids)
    if unknown:
        raise click.BadParameter(
            f"no record has the id {', '.join(unknown)}", param_hint="'--record-ids'"
        )


def _echo_summary(summary: dict) -> None:
    lines = [
        ("Records checked", summary["records_checked"]),
        ("Records that lacked events", summary["records_missing_events"]),
        ("Events created", summary["events_created"]),
        ("Events updated (flags, dates)", summary["events_updated"]),
    ]
    width = max(len(label) for label, _ in lines)
    for label, value in lines:
        click.echo(f"{label.ljust(width)}  {count(value)}")
    if summary.get("cancelled"):
        click.echo("Stopped before the end; re-run the command to complete the history.")


@click.group(name="community-events")
def community_events():
    """Community membership history: generate and check add/remove events."""


@community_events.command("generate")
@filter_options
@click.option(
    "--show-progress/--no-show-progress",
    default=True,
    show_default=True,
    help="Show progress: a bar on a terminal, lines on stderr elsewhere.",
)
@with_appcontext
def generate_command(community_ids, record_ids, start_date, end_date, show_progress):
    """Create the missing membership events of existing records (idempotent).

    A record's entry date is the accepted community request's time where one exists,
    else its creation date (never earlier); global: its creation date. Deleted records
    get "removed" events on their deletion date.
    """
    _check_filters(start_date, end_date, record_ids)
    with progress_callback(show_progress, "Generating membership events") as progress:
        summary = generate_community_events(
            community_ids=community_ids,
            record_ids=list(record_ids),
            start_date=start_date,
            end_date=end_date,
            progress=progress,
        )
    _echo_summary(summary)


@community_events.command("status")
@filter_options
@click.option("--community-details", is_flag=True, help="Add slug, title and stored-event columns.")
@format_option("text", "json")
@with_appcontext
def status_command(
    community_ids, record_ids, start_date, end_date, community_details, output_format
):
    """Count the records that lack membership events, per community."""
    details = community_details
    _check_filters(start_date, end_date, record_ids)
    summary = community_events_status(
        community_ids=community_ids,
        record_ids=list(record_ids),
        start_date=start_date,
        end_date=end_date,
    )
    if output_format == "json":
        if details:
            summary = {**summary, "details": community_details_of(list(summary["communities"]))}
        echo_json(summary)
        return
    click.echo(f"Records checked: {count(summary['records_checked'])}")
    click.echo(f"Records lacking events: {count(summary['records_missing_events'])}")
    click.echo(f"Events missing: {count(summary['events_missing'])}")
    per_community = summary["communities"]
    if not per_community:
        return
    ids = sorted(per_community, key=lambda c: (c != GLOBAL, c))
    headers = ["COMMUNITY", "RECORDS", "LACKING EVENTS", "EVENTS MISSING"]
    extra = community_details_of(ids) if details else {}
    if details:
        headers = ["COMMUNITY", "SLUG", "TITLE", *headers[1:], "STORED EVENTS", "FIRST", "LAST"]
    rows = []
    for cid in ids:
        counts = per_community[cid]
        numbers = [
            count(counts["records"]),
            count(counts["records_missing_events"]),
            count(counts["events_missing"]),
        ]
        if details:
            info = extra.get(cid, {})
            rows.append(
                [
                    cid,
                    info.get("slug", "-"),
                    info.get("title", "-"),
                    *numbers,
                    count(info.get("events", 0)),
                    info.get("first_event", "-"),
                    info.get("last_event", "-"),
                ]
            )
        else:
            rows.append([cid, *numbers])
    click.echo("")
    click.echo(render_table(headers, rows))


@community_events.command("generate-background")
@filter_options
@pid_dir_option
@with_appcontext
def generate_background_command(community_ids, record_ids, start_date, end_date, pid_dir):
    """Run ``generate`` as a background process named community-event-generation."""
    _check_filters(start_date, end_date, record_ids)
    params = {
        "community_ids": community_ids,
        "record_ids": list(record_ids),
        "start_date": start_date.isoformat() if start_date else None,
        "end_date": end_date.isoformat() if end_date else None,
    }
    start_background(pid_dir, GENERATION_PROCESS, GENERATION_TARGET, params)
