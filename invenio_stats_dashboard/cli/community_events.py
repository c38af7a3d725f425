"""``invenio community-stats community-events ...``."""

from __future__ import annotations

import functools
import sys
from contextlib import contextmanager
from datetime import date

import click
from flask import current_app
from flask.cli import with_appcontext

from ..events.api import (
    GLOBAL,
    InvalidFilterError,
    community_events_status,
    generate_community_events,
    parse_day,
    resolve_community_ids,
)
from ..events.summary import community_details as load_community_details
from ..processes.manager import ProcessError
from .processes import get_manager, pid_dir_option, render_table

GENERATION_PROCESS = "community-event-generation"
GENERATION_TARGET = "invenio_stats_dashboard.events.api:generate_community_events"


def _day(ctx, param, value):
    try:
        return parse_day(value, param.name.replace("_", " "))
    except InvalidFilterError as exc:
        raise click.BadParameter(str(exc)) from None


def _split(ctx, param, values):
    """Repeatable options also take comma- or space-separated lists."""
    out = []
    for value in values or ():
        out.extend(part for part in value.replace(",", " ").split() if part)
    return tuple(dict.fromkeys(out))


def _extra_record_ids(func):
    """Let ``--record-ids a b c`` work as the spec writes it.

    Click options take one value each: the values after the first are arguments, taken
    here as more record ids.
    """

    @functools.wraps(func)
    def wrapper(*args, more_record_ids=(), record_ids=(), **kwargs):
        extra = _split(None, None, more_record_ids)
        if extra and not record_ids:
            raise click.UsageError(f"Got unexpected extra arguments ({' '.join(extra)})")
        return func(*args, record_ids=tuple(dict.fromkeys((*record_ids, *extra))), **kwargs)

    return click.argument("more_record_ids", nargs=-1, metavar="[RECORD_ID]...")(wrapper)


def filter_options(func):
    """The record/community/date filters shared by generate, status and background."""
    func = _extra_record_ids(func)
    options = [
        click.option(
            "--community-id",
            "community_ids",
            multiple=True,
            callback=_split,
            help="Community UUID or slug (repeatable; 'global' for the instance series).",
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
            callback=_day,
            help="First record creation day (YYYY-MM-DD). Default: the earliest record.",
        ),
        click.option(
            "--end-date",
            callback=_day,
            help="Last record creation day (YYYY-MM-DD, inclusive). Default: today.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _check_filters(community_ids, start_date: date | None, end_date: date | None) -> list[str]:
    if not current_app.config.get("COMMUNITY_STATS_ENABLED", True):
        raise click.ClickException(
            "Community stats are disabled (COMMUNITY_STATS_ENABLED is False)."
        )
    if start_date and end_date and start_date > end_date:
        raise click.BadParameter(
            f"start date {start_date} is after end date {end_date}", param_hint="--start-date"
        )
    try:
        return resolve_community_ids(community_ids)
    except InvalidFilterError as exc:
        raise click.BadParameter(str(exc), param_hint="--community-id") from None


@contextmanager
def progress_bar(show: bool, label: str):
    """A ``progress(done, total)`` callback drawing a bar on a terminal (else nothing)."""
    if not (show and sys.stderr.isatty()):
        yield None
        return
    state = {"bar": None, "done": 0}

    def progress(done: int, total: int) -> None:
        if state["bar"] is None:
            state["bar"] = click.progressbar(length=max(total, 1), label=label, file=sys.stderr)
            state["bar"].__enter__()
        state["bar"].update(done - state["done"])
        state["done"] = done

    try:
        yield progress
    finally:
        if state["bar"] is not None:
            state["bar"].__exit__(None, None, None)


def _echo_summary(summary: dict) -> None:
    lines = [
        ("Records checked", summary["records_checked"]),
        ("Records that lacked events", summary["records_missing_events"]),
        ("Events created", summary["events_created"]),
        ("Events updated (flags, dates)", summary["events_updated"]),
    ]
    width = max(len(label) for label, _ in lines)
    for label, value in lines:
        click.echo(f"{label.ljust(width)}  {value}")
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
    help="Show a progress bar (on a terminal).",
)
@with_appcontext
def generate_command(community_ids, record_ids, start_date, end_date, show_progress):
    """Create the missing membership events of existing records (idempotent).

    A record's entry date is the accepted community request's time where one exists,
    else its publication date, else its creation date; global: its creation date.
    Deleted records get "removed" events on their deletion date.
    """
    communities = _check_filters(community_ids, start_date, end_date)
    with progress_bar(show_progress, "Generating membership events") as progress:
        summary = generate_community_events(
            community_ids=communities,
            record_ids=list(record_ids),
            start_date=start_date,
            end_date=end_date,
            progress=progress,
        )
    _echo_summary(summary)


@community_events.command("status")
@filter_options
@click.option("--community-details", is_flag=True, help="Add slug, title and stored-event columns.")
@with_appcontext
def status_command(community_ids, record_ids, start_date, end_date, community_details):
    """Count the records that lack membership events, per community."""
    details = community_details
    communities = _check_filters(community_ids, start_date, end_date)
    summary = community_events_status(
        community_ids=communities,
        record_ids=list(record_ids),
        start_date=start_date,
        end_date=end_date,
    )
    click.echo(f"Records checked: {summary['records_checked']}")
    click.echo(f"Records lacking events: {summary['records_missing_events']}")
    click.echo(f"Events missing: {summary['events_missing']}")
    per_community = summary["communities"]
    if not per_community:
        return
    ids = sorted(per_community, key=lambda c: (c != GLOBAL, c))
    headers = ["COMMUNITY", "RECORDS", "LACKING EVENTS", "EVENTS MISSING"]
    extra = load_community_details(ids) if details else {}
    if details:
        headers = ["COMMUNITY", "SLUG", "TITLE", *headers[1:], "STORED EVENTS", "FIRST", "LAST"]
    rows = []
    for cid in ids:
        counts = per_community[cid]
        numbers = [
            str(counts["records"]),
            str(counts["records_missing_events"]),
            str(counts["events_missing"]),
        ]
        if details:
            info = extra.get(cid, {})
            rows.append(
                [
                    cid,
                    info.get("slug", "-"),
                    info.get("title", "-"),
                    *numbers,
                    str(info.get("events", 0)),
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
    communities = _check_filters(community_ids, start_date, end_date)
    manager = get_manager(pid_dir)
    params = {
        "community_ids": communities,
        "record_ids": list(record_ids),
        "start_date": start_date.isoformat() if start_date else None,
        "end_date": end_date.isoformat() if end_date else None,
    }
    try:
        pid = manager.start(GENERATION_PROCESS, GENERATION_TARGET, params)
    except (ProcessError, OSError) as exc:
        click.echo(f"Error: {exc}", err=True)
        raise click.exceptions.Exit(1) from None
    click.echo(f"Started {GENERATION_PROCESS} (PID {pid}).")
    click.echo(f"Status: invenio community-stats processes status {GENERATION_PROCESS}")
    click.echo(f"Cancel: invenio community-stats processes cancel {GENERATION_PROCESS}")
    click.echo(f"Files:  {manager.pid_dir}/{GENERATION_PROCESS}.{{pid,status.json,log}}")
