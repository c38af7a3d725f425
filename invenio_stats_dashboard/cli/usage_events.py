"""``invenio community-stats usage-events ...``.

Thin commands: options are parsed and checked here, the work is done in
``invenio_stats_dashboard.usage`` (``migration``, ``status``, ``generation``).
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from ..core import indices
from ..core.errors import EXIT_ITEM_ERRORS
from ..core.units import count
from .options import (
    DAY,
    check_range,
    echo_json,
    fail,
    format_option,
    pid_dir_option,
    progress_callback,
    render_table,
    require_enabled,
    start_background,
)

EVENT_TYPE_CHOICE = click.Choice(sorted(indices.EVENT_TYPES))


class MultiValueOption(click.Option):
    """A ``multiple`` option that also takes several values after one flag.

    ``-e view download`` and ``-e view -e download`` mean the same.
    """

    def __init__(self, *args, **kwargs):
        kwargs["multiple"] = True
        super().__init__(*args, **kwargs)

    def add_to_parser(self, parser, ctx):
        """Make the parser swallow the values that follow the flag."""
        result = super().add_to_parser(parser, ctx)
        for name in self.opts:
            option = parser._long_opt.get(name) or parser._short_opt.get(name)
            if option is None:
                continue
            original = option.process

            def process(value, state, original=original):
                original(value, state)
                while state.rargs and not state.rargs[0].startswith("-"):
                    original(state.rargs.pop(0), state)

            option.process = process
        return result


def _month(ctx, param, values):
    bad = [v for v in values if not indices.MONTH_RE.match(v)]
    if bad:
        raise click.BadParameter(f"{bad[0]!r} is not a month (YYYY-MM)")
    return tuple(values)


@click.group(name="usage-events")
def usage_events():
    """Enriched usage events: migrate raw view/download events, generate synthetic ones."""


def migration_options(func):
    """Options shared by ``migrate`` and ``migrate-background``."""
    for decorator in reversed(
        [
            click.option(
                "--event-types",
                "-e",
                cls=MultiValueOption,
                type=EVENT_TYPE_CHOICE,
                help="Event types to migrate (view, download); repeatable. Default: both.",
            ),
            click.option(
                "--max-batches",
                "-b",
                type=click.IntRange(min=1),
                default=None,
                help="Most batches per month in this run "
                "(default: STATS_DASHBOARD_REINDEXING_MAX_BATCHES, unlimited when unset).",
            ),
            click.option(
                "--batch-size",
                type=click.IntRange(1, 10_000),
                default=None,
                help="Events per batch, at most 10,000 "
                "(default: STATS_DASHBOARD_REINDEXING_BATCH_SIZE).",
            ),
            click.option(
                "--max-memory-percent",
                type=click.FloatRange(1, 100),
                default=None,
                help="Stop cleanly when the machine's memory use passes this percentage "
                "(default: STATS_DASHBOARD_REINDEXING_MAX_MEMORY_PERCENT).",
            ),
            click.option(
                "--delete-old-indices",
                is_flag=True,
                help="Delete each raw monthly index once its enriched twin is validated "
                "(never the current month's). Default: keep them.",
            ),
        ]
    ):
        func = decorator(func)
    return func


def _options(**kwargs):
    from ..usage_events.migration import MigrationError, MigrationOptions

    try:
        return MigrationOptions.from_config(**kwargs)
    except MigrationError as err:
        raise click.UsageError(str(err)) from err


def generation_options(func):
    """Options shared by ``generate`` and ``generate-background``."""
    day = {"type": DAY, "default": None}
    for decorator in reversed(
        [
            click.option(
                "--start-date",
                **day,
                help="Only records created on or after this day (default: the earliest).",
            ),
            click.option(
                "--end-date",
                **day,
                help="Only records created on or before this day (default: today).",
            ),
            click.option(
                "--event-start-date",
                **day,
                help="First day of event timestamps (default: --start-date, else each "
                "record's creation day). No event precedes its record's creation.",
            ),
            click.option(
                "--event-end-date",
                **day,
                help="Last day of event timestamps (default: --end-date).",
            ),
            click.option(
                "--events-per-record",
                type=click.IntRange(min=1),
                default=5,
                show_default=True,
                help="Events generated per record.",
            ),
            click.option(
                "--max-records",
                type=click.IntRange(min=0),
                default=0,
                show_default=True,
                help="Most records to use (0: all).",
            ),
            click.option(
                "--seed",
                type=int,
                default=None,
                help="Seed of the random draws: the same seed, the same events "
                "(default: STATS_DASHBOARD_SYNTHETIC_EVENTS_SEED, else new events each run).",
            ),
            click.option(
                "--enrich-events",
                is_flag=True,
                help="Also write enriched copies (community_ids and record metadata) into "
                "the -v2.0.0 indices.",
            ),
        ]
    ):
        func = decorator(func)
    return func


def _generation_options(**kwargs):
    from ..usage_events.generation import GenerationOptions

    opts = GenerationOptions(**kwargs)
    check_range(opts.start_date, opts.end_date)
    check_range(
        opts.event_start_date or opts.start_date,
        opts.event_end_date or opts.end_date,
        "'--event-start-date'",
    )
    return opts


@usage_events.command("generate")
@generation_options
@click.option("--dry-run", is_flag=True, help="Count what would be generated; write nothing.")
@click.option("--yes-i-know", is_flag=True, help="Skip the confirmation prompt.")
@click.option(
    "--use-migrated-indices",
    is_flag=True,
    help="Write enriched events into a month's -v2.0.0 index whenever it exists.",
)
@with_appcontext
def generate(dry_run, yes_i_know, **kwargs):
    """Generate synthetic view/download events for existing records (testing, demos)."""
    require_enabled()
    from ..usage_events.generation import count_records
    from ..usage_events.generation import generate as run_generation

    opts = _generation_options(dry_run=dry_run, **kwargs)
    records = count_records(opts)
    if not records:
        click.echo("No records match: nothing to generate.")
        return
    about = records * opts.events_per_record
    if not dry_run and not yes_i_know:
        click.confirm(f"Generate about {about} events for {records} records?", abort=True)
    with progress_callback(True, "Generating events") as progress:
        done = 0

        def on_page(records_done: int) -> None:
            nonlocal done
            done += records_done
            progress(done, records)

        result = run_generation(opts, progress=on_page)
    verb = "Would write" if dry_run else "Wrote"
    click.echo(
        f"{verb} {result.events} events for {result.records} records "
        f"({result.start} to {result.end})."
    )
    rows = [[index, count] for index, count in sorted(result.per_index.items())]
    if rows:
        click.echo(render_table(["index", "events"], rows))


@usage_events.command("generate-background")
@generation_options
@pid_dir_option
@with_appcontext
def generate_background(pid_dir, **kwargs):
    """Start event generation in the background (process name: usage-event-generation)."""
    require_enabled()
    from ..usage_events.service import GENERATION_PROCESS, GENERATION_TARGET, generation_params

    opts = _generation_options(**kwargs)
    start_background(pid_dir, GENERATION_PROCESS, GENERATION_TARGET, generation_params(opts))


@usage_events.command("migrate")
@migration_options
@click.option("--dry-run", is_flag=True, help="Show what would be migrated; write nothing.")
@click.option("--async", "run_async", is_flag=True, help="Run the migration as a Celery task.")
@with_appcontext
def migrate(
    event_types, max_batches, batch_size, max_memory_percent, delete_old_indices, dry_run, run_async
):
    """Copy raw monthly view/download indices into enriched -v2.0.0 indices.

    Resumable (a bookmark per event type and month), validated month by month before
    readers switch to the enriched index. Run `usage-events status` to follow it.
    """
    require_enabled()
    from ..usage_events.migration import MigrationError
    from ..usage_events.service import run_migration

    options = _options(
        event_types=tuple(dict.fromkeys(event_types)),
        max_batches=max_batches,
        batch_size=batch_size,
        max_memory_percent=max_memory_percent,
        dry_run=dry_run,
        delete_old_indices=delete_old_indices,
    )
    if run_async:
        from ..usage_events.tasks import migrate_usage_events

        task = migrate_usage_events.delay(options.__dict__)
        click.echo(f"Migration queued as Celery task {task.id}.")
        return
    try:
        with progress_callback(True, "Migrating events") as progress:
            results = run_migration(options, progress)
    except MigrationError as err:
        fail(str(err))
    if not results:
        click.echo("No raw view/download indices to migrate.")
        return
    rows = [
        [r.event_type, r.month, r.state, count(r.written), count(r.source_count), r.message]
        for r in results
    ]
    click.echo(render_table(["type", "month", "state", "written", "source", "message"], rows))
    if any(r.state == "failed" for r in results):  # the other months were migrated
        raise click.exceptions.Exit(EXIT_ITEM_ERRORS)


@usage_events.command("migrate-background")
@migration_options
@pid_dir_option
@with_appcontext
def migrate_background(
    event_types, max_batches, batch_size, max_memory_percent, delete_old_indices, pid_dir
):
    """Start the migration in the background (process name: event-migration)."""
    require_enabled()
    from dataclasses import asdict

    from ..usage_events.service import MIGRATION_PROCESS, MIGRATION_TARGET

    options = _options(
        event_types=tuple(dict.fromkeys(event_types)),
        max_batches=max_batches,
        batch_size=batch_size,
        max_memory_percent=max_memory_percent,
        delete_old_indices=delete_old_indices,
    )
    start_background(pid_dir, MIGRATION_PROCESS, MIGRATION_TARGET, asdict(options))


@usage_events.command("status")
@click.option("--show-bookmarks", is_flag=True, help="Show each month's bookmark in detail.")
@format_option("text", "json")
@with_appcontext
def status(show_bookmarks, output_format):
    """Migration state per event type and month: counts, progress, which index is read."""
    require_enabled()
    from ..usage_events.status import migration_status

    rows = migration_status()
    if output_format == "json":  # bookmarks included
        echo_json(rows)
        return
    if not rows:
        click.echo("No view/download event indices found.")
        return
    table = [
        [
            r["event_type"],
            r["month"],
            count(r["source_count"]),
            count(r["target_count"]),
            f"{r['progress']:.0f}%" if r["progress"] is not None else "-",
            r["readers"],
            r["state"],
        ]
        for r in rows
    ]
    click.echo(
        render_table(["type", "month", "source", "target", "progress", "read from", "state"], table)
    )
    if show_bookmarks:
        click.echo("")
        for r in rows:
            bm = r.get("bookmark")
            if not bm:
                continue
            click.echo(f"{r['event_type']} {r['month']}:")
            for key in (
                "state",
                "written",
                "batches",
                "last_sort",
                "copy_started",
                "caught_up_to",
                "updated_timestamp",
                "message",
            ):
                click.echo(f"  {key:<18} {bm.get(key)}")


@usage_events.command("clear-bookmarks")
@click.option(
    "--event-type",
    "event_types",
    multiple=True,
    type=EVENT_TYPE_CHOICE,
    help="Event type (view, download); repeatable.",
)
@click.option("--months", multiple=True, callback=_month, help="Month (YYYY-MM); repeatable.")
@click.option("--fresh-start", is_flag=True, help="Clear every migration bookmark.")
@with_appcontext
def clear_bookmarks(event_types, months, fresh_start):
    """Clear migration bookmarks so those months are copied again from the start."""
    require_enabled()
    from ..core.bookmarks import MigrationBookmarks

    if not (event_types or months or fresh_start):
        raise click.UsageError("give --event-type and/or --months, or --fresh-start")
    if fresh_start and (event_types or months):
        raise click.UsageError("--fresh-start clears everything: drop --event-type/--months")
    removed = MigrationBookmarks().clear(list(event_types), list(months))
    click.echo(f"Cleared {removed} bookmark(s).")
