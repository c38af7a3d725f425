"""Entry points the CLI, Celery tasks and background processes call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

from ..core.days import parse_day
from ..core.locks import held_while_working
from .generation import GenerationOptions, count_records, generate
from .migration import MigrationOptions, Migrator, MonthMigration, MonthResult

MIGRATION_LOCK = "usage-migration"
"""The lock a migration holds: two at once would copy the same batches."""
MIGRATION_PROCESS = "event-migration"
MIGRATION_TARGET = "invenio_stats_dashboard.usage_events.service:background_migration"
GENERATION_PROCESS = "usage-event-generation"
GENERATION_TARGET = "invenio_stats_dashboard.usage_events.service:background_generation"


def remaining_events(migrator: Migrator) -> int:
    """Events left to copy over the planned months (for progress reports)."""
    total = 0
    for event_type, month in migrator.plan():
        bm = migrator.bookmarks.get(event_type, month) or {}
        if bm.get("state") == "migrated":
            continue
        month_run = MonthMigration(migrator, event_type, month)
        total += max(month_run.count(month_run.source) - bm.get("written", 0), 0)
    return total


def run_migration(options: MigrationOptions, progress: Callable | None = None) -> list[MonthResult]:
    """Run the migration; ``progress(done, total)`` after each batch (not in a dry run).

    Holds the migration lock (``LockHeld`` when another migration runs); a dry run
    writes nothing and needs no lock.
    """
    migrator = Migrator(options)
    if options.dry_run:
        return migrator.run()
    return _run_locked(migrator, progress)


def background_migration(
    progress: Callable, should_stop: Callable[[], bool], **options
) -> list[dict]:
    """Process-manager target of ``migrate-background`` (stops at a batch on SIGTERM)."""
    opts = MigrationOptions(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}
    )
    migrator = Migrator(opts, should_stop=should_stop)
    return [asdict(result) for result in _run_locked(migrator, progress)]


def _run_locked(migrator: Migrator, progress: Callable | None) -> list[MonthResult]:
    """Run under the migration lock, renewing it and reporting progress after each batch."""
    with held_while_working(MIGRATION_LOCK, "usage-events migrate") as keep_alive:
        total = remaining_events(migrator) if progress is not None else 0
        done = 0

        def on_batch(event_type: str, month: str, count: int) -> None:
            nonlocal done
            keep_alive()
            done += count
            if progress is not None:
                progress(done, total, step=f"{event_type} {month}")

        migrator.on_batch = on_batch
        return migrator.run()


def generation_params(opts: GenerationOptions) -> dict:
    """JSON-safe parameters of a generation (for a background process)."""
    params = asdict(opts)
    for key, value in params.items():
        if hasattr(value, "isoformat"):
            params[key] = value.isoformat()
    return params


def background_generation(progress: Callable, should_stop: Callable[[], bool], **params) -> dict:
    """Process-manager target of ``generate-background``."""
    for key in ("start_date", "end_date", "event_start_date", "event_end_date"):
        params[key] = parse_day(params.get(key))
    opts = GenerationOptions(**params)
    total = count_records(opts)
    done = 0

    def on_page(count: int) -> None:
        nonlocal done
        done += count
        progress(done, total)

    result = generate(opts, progress=on_page, should_stop=should_stop)
    return {
        "records": result.records,
        "events": result.events,
        "per_index": dict(result.per_index),
    }
