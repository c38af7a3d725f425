"""Celery tasks for aggregations (thin wrappers over the service)."""

from __future__ import annotations

from celery import chord, shared_task
from flask import current_app

from ..core.days import parse_day
from ..core.locks import RunDeadlineExceeded
from ..core.progress import ProgressLines
from .parallel import finish_split_run, run_part, split_tasks, start_split_run
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
    With ``COMMUNITY_STATS_AGGREGATION_TASKS`` above 1 the run is split into parts
    queued for the workers (:mod:`.parallel`).
    """
    try:
        check_may_run(force)
    except AggregationDisabled as error:
        return {"skipped": str(error)}
    catchup_limit = 0 if force or end_date else scheduled_catchup_limit()
    options = {
        "start_date": start_date,
        "end_date": end_date,
        "update_bookmark": update_bookmark,
        "ignore_bookmark": ignore_bookmark,
        "catchup_limit": catchup_limit,
    }
    if split_tasks() > 1:
        return _split(community_ids, options)
    lines = ProgressLines("community stats aggregation", current_app.logger.info)
    try:
        report = run_aggregations(
            community_ids=community_ids,
            start=parse_day(start_date),
            end=parse_day(end_date),
            update_bookmark=update_bookmark,
            ignore_bookmark=ignore_bookmark,
            catchup_limit=catchup_limit,
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


def _split(community_ids: list[str] | None, options: dict) -> dict:
    """Queue a run as parts on the workers (``COMMUNITY_STATS_AGGREGATION_TASKS``)."""
    try:
        parts = start_split_run(community_ids, split_tasks())
    except AggregationLocked as error:
        current_app.logger.warning("community stats aggregation skipped: %s", error)
        return {"skipped": str(error)}
    finished = finish_split_aggregation.s(update_bookmark=options["update_bookmark"])
    result = chord(aggregate_part.s(**part, **options) for part in parts)(finished)
    return {"parts": len(parts), "chord": result.id}


@shared_task(ignore_result=False)
def aggregate_part(part: str, names: list[str], community_ids: list[str], counter: bool, **options):
    """One part of a split run (any worker)."""
    lines = ProgressLines(f"community stats aggregation part {part}", current_app.logger.info)
    try:
        result = run_part(
            part,
            names,
            community_ids,
            counter,
            heartbeat=RunProgress(community_ids, lines.update),
            **options,
        )
    except RunDeadlineExceeded as error:
        current_app.logger.warning("community stats aggregation part %s: %s", part, error)
        return {"part": part, "skipped": str(error)}
    if "skipped" in result:
        current_app.logger.warning(
            "community stats aggregation part %s skipped: %s", part, result["skipped"]
        )
    else:
        lines.finish()
    return result


@shared_task(ignore_result=False)
def finish_split_aggregation(results: list[dict], update_bookmark: bool = True) -> dict:
    """The last step of a split run, once every part is done."""
    return finish_split_run(results, update_bookmark=update_bookmark)
