"""``invenio importer`` command group."""

import logging
from contextlib import contextmanager
from datetime import date

import click
from flask import current_app
from flask.cli import with_appcontext

from invenio_stats_dashboard.cli.options import DAY, check_range, progress_callback
from invenio_stats_dashboard.core.errors import (
    EXIT_FAILURE,
    EXIT_ITEM_ERRORS,
    EXIT_OK,
    OneLineErrorsGroup,
)
from invenio_stats_dashboard.core.units import count

from .services import repair

RULE = "=" * 70
ERRORS_SHOWN = 10
DRY_RUN_START = "DRY RUN: nothing will be written."
DRY_RUN_END = "DRY RUN: nothing was written."


class ImporterGroup(OneLineErrorsGroup):
    """The importer's command group: old dashed names still run, unlisted."""

    ALIASES = {"update-created-dates": "update_created_dates"}

    def get_command(self, ctx, cmd_name):
        """Resolve an alias to its command (aliases stay out of ``--help``)."""
        return super().get_command(ctx, self.ALIASES.get(cmd_name, cmd_name))


@click.group(name="importer", cls=ImporterGroup)
def cli():
    """Knowledge Commons Works importer tools (created-date repair)."""


class _EchoHandler(logging.Handler):
    """Write log records to the command's stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(self.format(record), err=True)


@contextmanager
def _log_to_stderr(verbose: bool):
    """While the command runs, the app logger writes to stderr through this handler only.

    Warnings and errors always, the helpers' INFO lines with ``--verbose``; whatever
    level and handlers the instance configured come back afterwards.
    """
    logger = current_app.logger
    level, handlers, propagate = logger.level, list(logger.handlers), logger.propagate
    handler = _EchoHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    for old in handlers:
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO if verbose else logging.WARNING)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        for old in handlers:
            logger.addHandler(old)
        logger.setLevel(level)
        logger.propagate = propagate


def _banner(title: str, first: bool = False) -> None:
    click.echo(("" if first else "\n") + RULE)
    click.echo(title)
    click.echo(RULE)


def _print_errors(errors: list[dict], describe, dry_run: bool) -> None:
    if not errors:
        return
    click.echo("\nCannot be updated:" if dry_run else "\nErrors:")
    for error in errors[:ERRORS_SHOWN]:
        click.echo(f"  - {describe(error)}: {error['error']}")
    if len(errors) > ERRORS_SHOWN:
        click.echo(f"  ... and {len(errors) - ERRORS_SHOWN} more")


def _print_stopped(stats: dict, key: str, noun: str) -> None:
    if stats.get("stopped_early"):
        click.echo(
            f"\nStopped early: the search cluster stayed unhealthy after "
            f"{stats[key]} of {stats['total_found']} {noun}.",
            err=True,
        )


def _queue(todo: list[str], options: repair.RepairOptions) -> None:
    """Queue the tasks as one chain: communities start only after records succeeded."""
    from celery import chain

    from .tasks import (
        RunStoppedEarly,
        update_community_created_dates_task,
        update_record_created_dates_task,
    )

    common = {
        "batch_size": options.batch_size,
        "dry_run": options.dry_run,
        "verbose": options.verbose,
    }
    signatures, names = [], []
    if options.dry_run:
        click.echo(DRY_RUN_START)
    click.echo("Starting background tasks...")
    if repair.RECORDS in todo:
        click.echo("Queuing record update task...")
        signatures.append(
            update_record_created_dates_task.si(
                start_date=options.start_date, end_date=options.end_date, **common
            )
        )
        names.append(("Record", "records"))
    if repair.COMMUNITIES in todo:
        click.echo("Queuing community update task...")
        signatures.append(update_community_created_dates_task.si(**common))
        names.append(("Community", "communities"))
    try:
        result = chain(*signatures).apply_async()
    except RunStoppedEarly as exc:  # only when Celery runs tasks eagerly (tests)
        raise click.ClickException(str(exc)) from None
    ids, node = [], result
    while node is not None:
        ids.insert(0, node.id)
        node = node.parent
    for (title, _), task_id in zip(names, ids, strict=True):
        click.echo(f"{title} update task queued: {task_id}")
    click.echo("\nTasks queued successfully!")
    if len(ids) > 1:
        click.echo("The community task starts only after the record task has succeeded.")
    click.echo("Monitor progress with: celery -A invenio_app.celery inspect active")
    for (_, name), task_id in zip(names, ids, strict=True):
        click.echo(f"  {name}: {task_id}")
    click.echo(
        "State, PROGRESS counts and result of a task: celery -A invenio_app.celery result <id>"
    )


def _print_counts(title: str, stats: dict, dry_run: bool, extra: dict | None = None) -> None:
    """The result block; a dry run says so in its heading and in every verb."""
    click.echo(f"\n{title} Update Results{' (DRY RUN)' if dry_run else ''}:")
    click.echo(f"  Total found: {count(stats['total_found'])}")
    click.echo(f"  {'Would update' if dry_run else 'Updated'}: {count(stats['updated'])}")
    click.echo(f"  Skipped: {count(stats['skipped'])}")
    for label, value in (extra or {}).items():
        click.echo(f"  {label}: {count(value)}")
    click.echo(f"  {'Would fail' if dry_run else 'Errors'}: {count(len(stats['errors']))}")


def _print_records(stats: dict, dry_run: bool) -> None:
    _print_counts("Record", stats, dry_run)
    _print_errors(stats["errors"], lambda e: f"{e['pid']} ({e['record_id']})", dry_run)
    _print_stopped(stats, "stopped_at_record", "records")


def _print_communities(stats: dict, dry_run: bool) -> None:
    _print_counts("Community", stats, dry_run, {"No records": stats["no_records"]})
    _print_errors(stats["errors"], lambda e: e["slug"], dry_run)
    _print_stopped(stats, "stopped_at_community", "communities")


PRINT = {repair.RECORDS: _print_records, repair.COMMUNITIES: _print_communities}
BANNERS = {
    repair.RECORDS: ("Updating record created dates...", "Records"),
    repair.COMMUNITIES: ("Updating community created dates...", "Communities"),
}


@cli.command(name="update_created_dates")
@click.option(
    "--records-only",
    is_flag=True,
    default=False,
    help="Only update record created dates, not communities.",
)
@click.option(
    "--communities-only",
    is_flag=True,
    default=False,
    help="Only update community created dates, not records.",
)
@click.option(
    "--start-date",
    type=DAY,
    default=None,
    help=(
        "Only update records whose current created date is on or after this UTC day. "
        "Only applies to records, not communities."
    ),
)
@click.option(
    "--end-date",
    type=DAY,
    default=None,
    help=(
        "Only update records whose current created date is on or before this UTC day "
        "(the whole day included). Only applies to records, not communities."
    ),
)
@click.option(
    "--batch-size",
    default=100,
    show_default=True,
    type=click.IntRange(min=1),
    help="Number of records/communities to process in each batch.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    default=False,
    help="Report what would be updated and write nothing (the output says DRY RUN).",
)
@click.option(
    "--background",
    is_flag=True,
    default=False,
    help="Run the update as background Celery tasks (records, then communities).",
)
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    default=False,
    help="Print detailed progress information (one line per item, on stderr).",
)
@with_appcontext
def update_created_dates(
    records_only: bool,
    communities_only: bool,
    start_date: date | None,
    end_date: date | None,
    batch_size: int,
    dry_run: bool,
    background: bool,
    verbose: bool,
):
    """Update created dates for migrated records and communities.

    \b
    This command updates the 'created' timestamp for:
    1. Records with custom_fields.hclegacy:record_creation_date
    2. Communities based on their oldest record's creation date

    Records are always updated before communities. Database and search index are
    both updated. Also runs as update-created-dates.

    \b
    Exit status:
      0  every item was updated or skipped (a dry run: would have been)
      1  the run stopped early (search cluster unhealthy) or a service failed
      2  bad options; nothing was done
      3  the run finished, but some items could not be updated (listed)

    \b
    Typical uses (run a dry run first):
      invenio importer update_created_dates --dry-run --verbose
      invenio importer update_created_dates
      invenio importer update_created_dates --records-only \\
          --start-date 2020-01-01 --end-date 2020-12-31
      invenio importer update_created_dates --communities-only
      invenio importer update_created_dates --background
    """  # noqa: D301 (click needs the \b control character)
    try:
        todo = repair.parts(records_only, communities_only)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    check_range(start_date, end_date)
    options = repair.RepairOptions(
        start_date and start_date.isoformat(),
        end_date and end_date.isoformat(),
        batch_size,
        dry_run,
        verbose,
    )
    if background:
        _queue(todo, options)
        return
    results = []
    with _log_to_stderr(verbose):
        if dry_run:
            _banner(DRY_RUN_START, first=True)
        for position, part in enumerate(todo):
            title, label = BANNERS[part]
            _banner(title, first=position == 0 and not dry_run)
            with progress_callback(True, label) as progress:
                stats = repair.run_part(part, options, progress)
            PRINT[part](stats, dry_run)
            results.append(stats)
            if not repair.may_continue(part, stats) and position + 1 < len(todo):
                click.echo("Community updates not started.", err=True)
                break
    code = repair.exit_code(results)
    _banner(FINAL[code] + (" (DRY RUN)" if dry_run else ""))
    if dry_run:
        click.echo(DRY_RUN_END)
    if code != EXIT_OK:
        click.get_current_context().exit(code)


FINAL = {
    EXIT_OK: "Update complete!",
    EXIT_ITEM_ERRORS: "Update finished; some items could not be updated (listed above).",
    EXIT_FAILURE: "Update stopped early; a re-run continues where it stopped.",
}
