"""A run split over Celery workers: its parts, their locks, its last step.

With ``COMMUNITY_STATS_AGGREGATION_TASKS`` above 1, a queued or scheduled run (the
Celery task; ``aggregate --eager`` keeps running in one process) is split:

1. :func:`start_split_run`, under the run lock: what every run does first
   (:func:`~.service.prepare_run`: the history reconciled, changes to the past
   followed), then the plan. Part 0 runs the usage aggregations (one pass over the
   events serves every community), COUNTER's item counts and any other batch; parts 1
   to N-1 the records aggregations, communities spread over them ("global", the
   largest, alone in part 1 when there are enough parts). The run lock is released
   before the parts are queued.
2. :func:`run_part`, one Celery task per part, on any worker: it holds its own lock
   (``aggregation-lock:<part>``), reads the bookmarks when it starts and writes its
   units exactly as a single-process run would (same windows, documents, bookmarks).
   A part that finds a run's first step under way skips: that run queues its own.
3. :func:`finish_split_run`, once every part is done (a Celery chord): the settings
   copies of unchanged communities depend on are stored, the cache is warmed.

A run cannot begin while a part still holds its lock (the lock of a dead worker's
part on the same host is taken over; elsewhere it expires after
``COMMUNITY_STATS_AGGREGATION_LOCK_TIMEOUT``). A worker killed mid-part leaves
bookmarks only for what it finished: the next run goes on from there.
"""

from __future__ import annotations

import time

from flask import current_app

from ..core.days import parse_day
from ..core.ids import GLOBAL
from ..core.locks import LockHeld, lock_is_held, lock_timeout, run_lock
from ..search.setup import ensure_search_setup
from .registry import aggregators
from .run import RunContext
from .service import (
    LOCK_NAME,
    PART_LOCK_PREFIX,
    AggregationLocked,
    after_run,
    all_community_ids,
    clamp_end,
    prepare_run,
    run_bookmarks,
    run_units,
    warm_cache,
)

RECORDS_BATCH = "records"


def split_tasks() -> int:
    """``COMMUNITY_STATS_AGGREGATION_TASKS``: Celery tasks one queued run is split into."""
    return max(1, int(current_app.config.get("COMMUNITY_STATS_AGGREGATION_TASKS") or 1))


def plan_parts(community_ids: list[str], tasks: int) -> list[dict]:
    """The parts of a run: ``{"part", "names", "community_ids", "counter"}`` each."""
    records = [a.name for a in aggregators() if a.batch == RECORDS_BATCH]
    others = [a.name for a in aggregators() if a.batch != RECORDS_BATCH]
    parts = [{"part": "0", "names": others, "community_ids": community_ids, "counter": True}]
    slots = max(1, tasks - 1)
    ordered = sorted(community_ids, key=lambda cid: (cid != GLOBAL, cid))
    chunks: list[list[str]] = [[] for _ in range(slots)]
    if slots > 1 and GLOBAL in ordered:
        chunks[0].append(ordered.pop(0))
        spread = chunks[1:]
    else:
        spread = chunks
    for position, community_id in enumerate(ordered):
        spread[position % len(spread)].append(community_id)
    for number, chunk in enumerate(chunks, start=1):
        if chunk:
            parts.append(
                {"part": str(number), "names": records, "community_ids": chunk, "counter": False}
            )
    return parts


def start_split_run(community_ids: list[str] | None, tasks: int) -> list[dict]:
    """A split run's first step (under the run lock); returns its parts.

    Raises :class:`~.service.AggregationLocked` while another run (or a part) works.
    """
    ensure_search_setup()
    notices: list[str] = []
    try:
        with run_lock(LOCK_NAME, lock_timeout(), "aggregation", notices.append) as renew:
            prepare_run(renew, notices.append)
            ids = community_ids if community_ids is not None else all_community_ids()
    except LockHeld as error:
        raise AggregationLocked(f"Another aggregation run is in progress: {error}") from None
    for notice in notices:
        current_app.logger.warning("community stats aggregation: %s", notice)
    return plan_parts(ids, tasks)


def run_part(
    part: str,
    names: list[str],
    community_ids: list[str],
    counter: bool,
    start_date: str | None = None,
    end_date: str | None = None,
    update_bookmark: bool = True,
    ignore_bookmark: bool = False,
    catchup_limit: int = 0,
    heartbeat=None,
) -> dict:
    """One part of a split run (a Celery task's body); its report as a dict."""
    began = time.monotonic()
    end, _ = clamp_end(parse_day(end_date))
    try:
        with run_lock(
            f"{PART_LOCK_PREFIX}{part}", lock_timeout(), f"aggregation part {part}"
        ) as renew:
            if lock_is_held(LOCK_NAME):
                # a run's first step is under way: it queues parts of its own
                return {"part": part, "skipped": "an aggregation run is starting"}
            ctx = RunContext(
                start=parse_day(start_date),
                end=end,
                ignore_bookmark=ignore_bookmark,
                update_bookmark=update_bookmark,
                catchup_limit=catchup_limit,
                bookmarks=run_bookmarks(),
                heartbeat_callbacks=[renew] + ([heartbeat] if heartbeat else []),
                keep_alive_callbacks=[renew],
            )
            report = run_units(ctx, aggregators(names), community_ids, counter)
    except LockHeld as error:
        return {"part": part, "skipped": str(error)}
    after_run(report, warm=False)
    report.seconds = time.monotonic() - began
    return {"part": part, "community_ids": community_ids, **report.as_dict()}


def finish_split_run(results: list[dict], update_bookmark: bool = True) -> dict:
    """A split run's last step: settings stored after complete parts, cache warmed."""
    done = [r for r in results if "skipped" not in r]
    if update_bookmark and done and len(done) == len(results):
        from .records.aggregators import store_settings

        store_settings([a for a in aggregators() if a.batch == RECORDS_BATCH])
    summary = {
        "parts": len(results),
        "skipped": [r["part"] for r in results if "skipped" in r],
        "documents": sum(r.get("documents", 0) for r in done),
        "counter_documents": sum(r.get("counter_documents", 0) for r in done),
        "seconds": max((r.get("seconds", 0) for r in done), default=0),
    }
    if summary["documents"]:
        warm_cache(sorted({cid for r in done for cid in r.get("community_ids", [])}))
    return summary
