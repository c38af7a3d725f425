"""The created-date repair as one policy, shared by the command and the Celery tasks.

- Order: records first, then communities (a community's date comes from its records'
  legacy dates, which the records part makes true first).
- Stopping: when the records part stops early (search cluster unhealthy), the
  communities part does not start.
- Outcome (the exit-code contract of docs/index.md): a part that stopped early fails the
  run (exit 1; in the background, the task chain fails); items that could not be
  updated (unparseable legacy values, failed writes) finish it with errors (exit 3).
"""

from __future__ import annotations

from dataclasses import dataclass

from invenio_stats_dashboard.core.errors import EXIT_FAILURE, EXIT_ITEM_ERRORS, EXIT_OK

from .batches import ProgressCallback
from .communities import CommunitiesHelper
from .records import RecordsHelper

RECORDS = "records"
COMMUNITIES = "communities"


@dataclass(frozen=True)
class RepairOptions:
    """What the repair was asked to do (``start_date``/``end_date`` limit records only)."""

    start_date: str | None = None
    end_date: str | None = None
    batch_size: int = 100
    dry_run: bool = False
    verbose: bool = False


def parts(records_only: bool = False, communities_only: bool = False) -> list[str]:
    """The parts to run, in order; raises ``ValueError`` when both limits are given."""
    if records_only and communities_only:
        raise ValueError("Cannot use both --records-only and --communities-only.")
    if records_only:
        return [RECORDS]
    if communities_only:
        return [COMMUNITIES]
    return [RECORDS, COMMUNITIES]


def run_part(part: str, options: RepairOptions, progress: ProgressCallback | None = None) -> dict:
    """Run one part; returns its statistics (see the helpers)."""
    common = {
        "batch_size": options.batch_size,
        "dry_run": options.dry_run,
        "verbose": options.verbose,
        "progress": progress,
    }
    if part == RECORDS:
        return RecordsHelper().update_record_created_dates(
            start_date=options.start_date, end_date=options.end_date, **common
        )
    if part == COMMUNITIES:
        return CommunitiesHelper().update_community_created_dates(**common)
    raise ValueError(f"unknown part {part!r}")


def exit_code(results: list[dict]) -> int:
    """The run's exit code from its parts' statistics (see the module docstring)."""
    if any(stats.get("stopped_early") for stats in results):
        return EXIT_FAILURE
    if any(stats["errors"] for stats in results):
        return EXIT_ITEM_ERRORS
    return EXIT_OK


def may_continue(part: str, stats: dict) -> bool:
    """True when the parts after this one may start."""
    return not stats.get("stopped_early")


STOP_KEYS = {RECORDS: "stopped_at_record", COMMUNITIES: "stopped_at_community"}


def stopped_message(part: str, stats: dict) -> str:
    """One line for a part that stopped early (counts reached so far)."""
    return (
        f"{part.capitalize()} update stopped early (search cluster unhealthy) after "
        f"{stats[STOP_KEYS[part]]} of {stats['total_found']}: {stats['updated']} updated, "
        f"{stats['skipped']} skipped, {len(stats['errors'])} errors"
    )
