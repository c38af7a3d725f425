"""Entry points the CLI, Celery tasks and background processes call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

from ..core.days import parse_day
from .generation import GenerationOptions, count_records, generate
from .migration import MigrationOptions, Migrator, MonthMigration, MonthResult

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
    """Run the migration; ``progress(done, total)`` after each batch (not in a dry run)."""
    migrator = Migrator(options)
    if progress is None or options.dry_run:
        return migrator.run()
    total, done = remaining_events(migrator), 0

    def on_batch(_type: str, _month: str, count: int) -> None:
        nonlocal done
        done += count
        progress(done, total)

    migrator.on_batch = on_batch
    return migrator.run()


def background_migration(
    progress: Callable, should_stop: Callable[[], bool], **options
) -> list[dict]:
    """Process-manager target of ``migrate-background`` (stops at a batch on SIGTERM)."""
    opts = MigrationOptions(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}
    )
    migrator = Migrator(opts, should_stop=should_stop)
    total = remaining_events(migrator)
    done = 0

    def on_batch(event_type: str, month: str, count: int) -> None:
        nonlocal done
        done += count
        progress(done, total, step=f"{event_type} {month}")

    migrator.on_batch = on_batch
    return [asdict(result) for result in migrator.run()]


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
