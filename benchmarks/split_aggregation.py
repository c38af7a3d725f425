"""Benchmark: one aggregation run split over Celery workers, one worker against two.

    .venv/bin/python benchmarks/split_aggregation.py [--records 5000] [--communities 20]
        [--tasks 5]

Starts its own osmem-server (or uses INVENIO_SEARCH_HOSTS) and writes the synthetic site
of ``record_aggregations.py`` over the first half of 2024. Then, for one worker and for
two (real ``celery worker`` processes, ``--pool solo --prefetch-multiplier 1``), queues
the aggregation task with ``COMMUNITY_STATS_AGGREGATION_TASKS=--tasks`` and
``--ignore-bookmark`` (the records aggregations from scratch: part 1 "global", the
communities spread over the other records parts) and waits for the run's last step:
wall time from queueing to the end, and the speed-up. The engine runs on the same
machine, so the speed-up shows what two workers gain while sharing its cores.

Uses Redis db 12 (``BENCH_REDIS``) for locks, broker and results, and the database
``invenio_bench_aggs`` (nothing is written to it).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from common import PG, running_engine
from record_aggregations import bench_app, setup

FIRST, LAST = date(2024, 1, 1), date(2024, 6, 30)
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/12")


def worker_env(hosts, tasks: int) -> dict:
    """The workers' settings, as ``INVENIO_`` variables (the bench app's)."""
    database = os.environ.get("SQLALCHEMY_DATABASE_URI", f"{PG}/invenio_bench_aggs")
    settings = {
        "SEARCH_HOSTS": repr(hosts),
        "SEARCH_CLIENT_CONFIG": repr({"timeout": 300}),
        "SQLALCHEMY_DATABASE_URI": database,
        "CACHE_REDIS_URL": REDIS,
        "CELERY_BROKER_URL": REDIS,
        "BROKER_URL": REDIS,
        "CELERY_RESULT_BACKEND": REDIS,
        "COMMUNITY_STATS_EARLIEST_DATE": FIRST.isoformat(),
        "COMMUNITY_STATS_RECONCILE_BEFORE_AGGREGATION": "False",
        "COMMUNITY_STATS_TRACK_MEMBERSHIP": "False",
        "COMMUNITY_STATS_AGGREGATION_TASKS": str(tasks),
        "COMMUNITY_STATS_CACHE_ENABLED": "False",
    }
    return {**os.environ, **{f"INVENIO_{k}": v for k, v in settings.items()}}


def start_workers(count: int, env: dict, logs: Path) -> list[subprocess.Popen]:
    celery = Path(sys.executable).with_name("celery")
    workers = []
    for number in range(count):
        log = (logs / f"worker{number}.log").open("w")
        workers.append(
            subprocess.Popen(
                [
                    str(celery),
                    "--app",
                    "invenio_app.celery",
                    "worker",
                    "--pool",
                    "solo",
                    "--prefetch-multiplier",
                    "1",
                    "-n",
                    f"bench{number}@%h",
                    "-l",
                    "info",
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    for number in range(count):
        path = logs / f"worker{number}.log"
        deadline = time.monotonic() + 120
        while "ready" not in path.read_text():
            if time.monotonic() > deadline:
                sys.exit(f"worker {number} did not start:\n{path.read_text()[-2000:]}")
            time.sleep(0.2)
    return workers


def timed_run(app) -> tuple[float, dict]:
    """Queue the run, wait for its last step; (seconds, its summary)."""
    from celery.result import AsyncResult

    from invenio_stats_dashboard.aggregations.tasks import aggregate_community_stats

    with app.app_context():
        began = time.monotonic()
        queued = aggregate_community_stats.delay(
            end_date=LAST.isoformat(), ignore_bookmark=True, force=True
        ).get(timeout=600)
        if "chord" not in queued:
            sys.exit(f"the run was not split: {queued}")
        summary = AsyncResult(queued["chord"]).get(timeout=3600)
        return time.monotonic() - began, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--communities", type=int, default=20)
    parser.add_argument("--tasks", type=int, default=5)
    args = parser.parse_args()
    logs = Path(os.environ.get("TMPDIR", "/tmp")) / "bench-split"
    logs.mkdir(exist_ok=True)
    with running_engine() as hosts:
        os.environ["BENCH_SEARCH_HOSTS"] = repr(hosts)
        app = bench_app()
        with app.app_context():
            site = setup(args.records, args.communities, FIRST, LAST)
        print(
            f"site: {site['record']} records, {site['event']} membership events, "
            f"{args.communities} communities, {FIRST} to {LAST}; "
            f"the run split into {args.tasks} tasks"
        )
        client = bench_app(
            CELERY_TASK_ALWAYS_EAGER=False,
            CELERY_RESULT_BACKEND=REDIS,
            COMMUNITY_STATS_AGGREGATION_TASKS=args.tasks,
            COMMUNITY_STATS_EARLIEST_DATE=FIRST.isoformat(),
        )
        env = worker_env(hosts, args.tasks)
        found = {}
        for count in (1, 2):
            workers = start_workers(count, env, logs)
            try:
                seconds, summary = timed_run(client)
            finally:
                for worker in workers:
                    worker.kill()
                    worker.wait()
            found[count] = seconds
            print(
                f"{count} worker{'s' if count > 1 else ' '}: {seconds:7.1f} s, "
                f"{summary['documents']} documents in {summary['parts']} parts "
                f"({summary['documents'] / seconds:.0f} documents/s)"
            )
        print(f"speed-up, two workers against one: {found[1] / found[2]:.2f}x")


if __name__ == "__main__":
    main()
