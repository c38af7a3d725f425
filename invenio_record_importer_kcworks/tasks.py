"""Celery tasks of the record importer (thin wrappers over the helpers)."""

from celery import shared_task

from .services import repair


class RunStoppedEarly(RuntimeError):
    """A repair stopped because the search cluster stayed unhealthy.

    Raised by the record task so that a chained community task does not start; the
    message carries the counts reached.
    """


def _task_id(task) -> str | None:
    """The running task's id.

    Flask-CeleryExt's task class runs the body through ``Task.__call__``, which pushes
    a request without an id on top of the one Celery's tracer pushed; the id is on the
    tracer's request below it.
    """
    for request in reversed(task.request_stack.stack):
        if getattr(request, "id", None):
            return request.id
    return None


def _reporter(task):
    """A progress callback that publishes PROGRESS states with the counts so far."""
    task_id = _task_id(task)

    def report(processed: int, total: int, stats: dict) -> None:
        if task_id is None:  # run directly, not as a task: nobody to report to
            return
        meta = {key: value for key, value in stats.items() if key != "errors"}
        meta.update(processed=processed, total=total, errors=len(stats["errors"]))
        task.update_state(task_id=task_id, state="PROGRESS", meta=meta)

    return report


def _run(task, part: str, **options) -> dict:
    stats = repair.run_part(part, repair.RepairOptions(**options), progress=_reporter(task))
    if not repair.may_continue(part, stats):
        raise RunStoppedEarly(repair.stopped_message(part, stats))
    return stats


@shared_task(ignore_result=False, bind=True)
def update_record_created_dates_task(
    self,
    start_date: str | None = None,
    end_date: str | None = None,
    batch_size: int = 100,
    dry_run: bool = False,
    verbose: bool = False,
) -> dict:
    """Update record created dates in the background.

    Reports ``PROGRESS`` with the counts after every batch and returns the statistics
    of :meth:`RecordsHelper.update_record_created_dates`. Fails with
    :class:`RunStoppedEarly` if the search cluster stayed unhealthy (a chained
    community task then does not start).
    """
    return _run(
        self,
        repair.RECORDS,
        start_date=start_date,
        end_date=end_date,
        batch_size=batch_size,
        dry_run=dry_run,
        verbose=verbose,
    )


@shared_task(ignore_result=False, bind=True)
def update_community_created_dates_task(
    self, batch_size: int = 100, dry_run: bool = False, verbose: bool = False
) -> dict:
    """Update community created dates in the background.

    Reports ``PROGRESS`` with the counts after every batch and returns the statistics
    of :meth:`CommunitiesHelper.update_community_created_dates`. Fails with
    :class:`RunStoppedEarly` if the search cluster stayed unhealthy.
    """
    return _run(self, repair.COMMUNITIES, batch_size=batch_size, dry_run=dry_run, verbose=verbose)
