"""Celery tasks for aggregations (thin wrappers over the service)."""

from __future__ import annotations

from celery import shared_task
from flask import current_app

from ..core.days import parse_day
from ..core.locks import RunDeadlineExceeded
from ..core.progress import ProgressLines
from .service import (
    AggregationDisabled,
    AggregationLocked,
    RunProgress,
    check_may_run,
    run_aggregations,
    scheduled_catchup_limit,
)


@shared_task(ignore_result=False)
def aggregate_community_stats(
    community_ids: list[str] | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    update_bookmark: bool = True,
    ignore_bookmark: bool = False,
    force: bool = False,
) -> dict:
    """Run the registered aggregations (the beat schedule calls it without arguments).

    Does nothing while ``COMMUNITY_STATS_ENABLED`` is False, or while
    ``COMMUNITY_STATS_SCHEDULED_TASKS_ENABLED`` is False unless ``force`` (a command
    that queued it). A scheduled run (not forced, no end date) writes at most
    ``COMMUNITY_STATS_CATCHUP_INTERVAL`` new days per series; the next beat continues.
    When another run holds the lock the task returns at once (the next beat catches up);
    a run past ``COMMUNITY_STATS_RUN_DEADLINE`` stops between communities (a warning).
    Progress goes to the app log (INFO) every ``COMMUNITY_STATS_PROGRESS_INTERVAL`` seconds.
    """
    try:
        check_may_run(force)
    except AggregationDisabled as error:
        return {"skipped": str(error)}
    lines = ProgressLines("community stats aggregation", current_app.logger.info)
    try:
        report = run_aggregations(
            community_ids=community_ids,
            start=parse_day(start_date),
            end=parse_day(end_date),
            update_bookmark=update_bookmark,
            ignore_bookmark=ignore_bookmark,
            catchup_limit=0 if force or end_date else scheduled_catchup_limit(),
            heartbeat=RunProgress(community_ids, lines.update),
        )
    except AggregationLocked as error:
        current_app.logger.warning("community stats aggregation skipped: %s", error)
        return {"skipped": str(error)}
    except RunDeadlineExceeded as error:
        current_app.logger.warning("community stats aggregation: %s", error)
        return {"stopped": str(error)}
    lines.finish()
    for notice in report.notices:
        current_app.logger.warning("community stats aggregation: %s", notice)
    return report.as_dict()
