"""Fault injection for ``invenio community-stats aggregate``: kill -9 at a batch, a paused
engine, an engine killed and restarted, two runs at once, a Celery worker lost mid-task.

Each run is a real ``invenio`` process whose search engine is a :class:`FaultProxy` in
front of the session's engine. After each fault and a re-run, every document and
bookmark must equal those of an uninterrupted run (timestamps aside), and the documents
must also equal the fixture's independent expectation.
"""

import signal
import sys
import time

import pytest
from invenio_search import current_search_client

from invenio_stats_dashboard.aggregations.service import LOCK_NAME
from invenio_stats_dashboard.core.indices import prefixed
from invenio_stats_dashboard.core.locks import current_holder, lock_is_held

from ...faults import (
    child_config,
    error_lines,
    finished,
    instance_config,
    invenio,
    killed_at_a_write,
    paused_mid_run,
    started_together,
    wait_for_writes,
    wait_until,
)
from .conftest import EARLIEST, RUN_END
from .expected import Truth, assert_matches

OUTPUTS = (
    "stats-community-records-*",
    "stats-community-usage-*",
    "stats-counter-item-monthly-*",
    "stats-bookmarks-community*",
)
"""What an aggregation run writes (the membership history is fixture data here)."""

VOLATILE = ("timestamp", "updated_timestamp")
SEARCH_TIMEOUT = 4
RUN = ("community-stats", "aggregate", "--eager", "--end-date", RUN_END.isoformat())


@pytest.fixture(scope="module")
def instance(site, app, fault_proxy, tmp_path_factory):
    """A child's instance: this module's site, reached through the fault_proxy."""
    return instance_config(
        tmp_path_factory.mktemp("faults") / "instance",
        child_config(
            app,
            fault_proxy,
            COMMUNITY_STATS_EARLIEST_DATE=EARLIEST.isoformat(),
            COMMUNITY_STATS_TOP_SUBCOUNT_LIMIT=2,
            COMMUNITY_STATS_TRACK_MEMBERSHIP=False,
            COMMUNITY_STATS_RECONCILE_BEFORE_AGGREGATION=False,
            COMMUNITY_STATS_SCHEDULED_TASKS_ENABLED=True,
            COMMUNITY_STATS_SEARCH_TIMEOUT=SEARCH_TIMEOUT,
            COMMUNITY_STATS_SEARCH_RETRY_MAX_WAIT=2,
        ),
    )


def outputs() -> dict:
    """Every document the run writes, by (index without prefix, id), timestamps aside."""
    current_search_client.indices.refresh(index=",".join(prefixed(p) for p in OUTPUTS))
    docs = {}
    for pattern in OUTPUTS:
        body = {"size": 1000, "sort": [{"_id": "asc"}], "query": {"match_all": {}}}
        while True:
            hits = current_search_client.search(
                index=prefixed(pattern), body=body, ignore_unavailable=True
            )["hits"]["hits"]
            for hit in hits:
                source = {k: v for k, v in hit["_source"].items() if k not in VOLATILE}
                if hit["_id"].startswith(("marker::", "setting::")):  # when they were stored
                    source.pop("date")
                key = (hit["_index"].removeprefix(prefixed("")), hit["_id"])
                assert key not in docs, f"{key} twice"
                docs[key] = source
            if len(hits) < 1000:
                break
            body["search_after"] = hits[-1]["sort"]
    return docs


def wipe() -> None:
    """Remove every output (indices stay), as before a first run."""
    for pattern in OUTPUTS:
        current_search_client.delete_by_query(
            index=prefixed(pattern),
            body={"query": {"match_all": {}}},
            refresh=True,
            ignore_unavailable=True,
        )
    assert outputs() == {}


def assert_same(actual: dict, expected: dict) -> None:
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    assert not missing and not extra, (missing[:5], extra[:5])
    differ = [key for key in expected if actual[key] != expected[key]]
    assert not differ, [(k, actual[k], expected[k]) for k in differ[:2]]


@pytest.fixture(scope="module")
def clean_run(site, instance, fault_proxy):
    """An uninterrupted run's outputs and its number of write requests."""
    wipe()
    with fault_proxy.refreshes_checked() as violations:
        writes = fault_proxy.writes
        code, out, err = finished(invenio(instance, *RUN))
    assert code == 0, err
    assert_matches(site, Truth(site))
    violations = list(violations)
    return {"docs": outputs(), "writes": fault_proxy.writes - writes, "violations": violations}


def test_a_clean_run_reads_nothing_it_has_not_refreshed(clean_run):
    """A real engine shows writes only after a refresh: the run refreshes before it reads."""
    assert clean_run["writes"] >= 4
    assert clean_run["violations"] == [], "\n".join(sorted(set(clean_run["violations"])))


@pytest.mark.parametrize("seed", [1, 3])
def test_kill_9_at_a_batch_then_a_rerun_starts_at_once_and_ends_as_a_clean_run(
    site, instance, fault_proxy, clean_run, seed
):
    wipe()
    nth, pid = killed_at_a_write(fault_proxy, instance, RUN, seed, clean_run["writes"] - 1)
    holder = current_holder(LOCK_NAME)
    assert holder is not None and holder.pid == pid  # left behind by the dead run
    assert outputs() != clean_run["docs"]

    began = time.monotonic()
    code, out, err = finished(invenio(instance, *RUN))
    assert code == 0, err
    assert f"Took over the {LOCK_NAME} lock of aggregation (pid {pid}" in err
    print(f"seed {seed}: killed at write {nth}; re-run took {time.monotonic() - began:.1f} s")
    assert not lock_is_held(LOCK_NAME)
    assert_same(outputs(), clean_run["docs"])
    assert_matches(site, Truth(site))


def test_a_paused_engine_fails_the_run_within_its_timeout_then_the_next_run_completes(
    site, instance, fault_proxy, clean_run
):
    wipe()
    code, out, err = paused_mid_run(fault_proxy, invenio(instance, *RUN))
    ended = time.monotonic()
    assert code == 1, err
    assert error_lines(err) == [
        f"Error: the search engine did not answer within {SEARCH_TIMEOUT} s "
        "(COMMUNITY_STATS_SEARCH_TIMEOUT); what was finished is kept, run it again "
        "when the engine answers."
    ], err
    assert "Traceback" not in err
    # the engine never answers again while paused: the run ended on its own (the figure
    # is printed, not asserted: no timed assertions in tests)
    waited = ended - fault_proxy.held[0][0]
    print(f"paused engine: the run failed {waited:.1f} s after its first unanswered request")
    assert not lock_is_held(LOCK_NAME)  # released on the way out

    code, out, err = finished(invenio(instance, *RUN))
    assert code == 0, err
    assert_same(outputs(), clean_run["docs"])


def test_an_engine_restarted_within_the_retries_is_survived(site, instance, fault_proxy, clean_run):
    """The engine goes away for a few seconds mid-run: the run waits and finishes."""
    wipe()
    process = invenio(instance, *RUN)
    wait_for_writes(fault_proxy, process, 2)
    fault_proxy.down()
    time.sleep(3)
    fault_proxy.up()
    code, out, err = finished(process)
    assert code == 0, err
    assert_same(outputs(), clean_run["docs"])


def test_an_engine_down_for_longer_fails_in_one_line_then_the_next_run_completes(
    site, instance, fault_proxy, clean_run
):
    wipe()
    process = invenio(instance, *RUN)
    wait_for_writes(fault_proxy, process, 2)
    fault_proxy.down()
    try:
        code, out, err = finished(process, timeout=120)
    finally:
        fault_proxy.up()
    assert code == 1, err
    lines = error_lines(err)
    assert len(lines) == 1 and "the search engine cannot be reached" in lines[0], err
    assert "Traceback" not in err
    assert not lock_is_held(LOCK_NAME)
    code, out, err = finished(invenio(instance, *RUN))
    assert code == 0, err
    assert_same(outputs(), clean_run["docs"])


def test_two_runs_started_at_once_one_runs_the_other_is_refused(
    site, instance, fault_proxy, clean_run
):
    wipe()
    results = started_together(fault_proxy, instance, *RUN)
    (code_ok, _, err_ok), (code_refused, _, err_refused) = results
    assert code_ok == 0, err_ok
    assert code_refused == 1, err_refused
    assert f"holds the {LOCK_NAME} lock; try again when it ends" in err_refused
    assert_same(outputs(), clean_run["docs"])


def test_a_celery_worker_lost_mid_task_then_a_rerun_ends_as_a_clean_run(
    site, instance, fault_proxy, clean_run
):
    """``aggregate`` (no --eager) queues the task; its worker dies in the middle."""
    wipe()
    worker = _celery_worker(instance)
    try:
        wait_until(lambda: "ready" in _read(worker), timeout=120, what="the worker to start")
        queued = finished(invenio(instance, *[a for a in RUN if a != "--eager"]))
        assert queued[0] == 0 and "queued as Celery task" in queued[1], queued
        wait_until(lambda: lock_is_held(LOCK_NAME), what="the task to start")
        fault_proxy.kill_at_write(2, worker.pid)
        worker.wait(timeout=120)
        assert worker.returncode == -signal.SIGKILL
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert lock_is_held(LOCK_NAME)
    code, out, err = finished(invenio(instance, *RUN))
    assert code == 0, err
    assert "Took over the" in err
    assert_same(outputs(), clean_run["docs"])


def _celery_worker(instance, name: str = "worker", **config: str):
    """A Celery worker for the site (one process: the task runs in the process killed).

    ``config``: settings for the worker (``INVENIO_<NAME>`` variables). It takes one
    task at a time (no prefetching), so queued parts spread over the workers.
    """
    import os
    import subprocess
    from pathlib import Path

    celery = Path(sys.executable).with_name("celery")
    log = instance / f"{name}.log"
    handle = log.open("w")
    env = {**os.environ, "INVENIO_INSTANCE_PATH": str(instance)}
    env.update({f"INVENIO_{key}": value for key, value in config.items()})
    process = subprocess.Popen(
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
            f"{name}@%h",
            "-l",
            "info",
        ],
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    process.log = log
    return process


SPLIT = {"COMMUNITY_STATS_AGGREGATION_TASKS": "3"}
"""A run split into three Celery tasks: usage and COUNTER, then records in two parts."""

PART_DONE = "tasks.aggregate_part["
SPLIT_DONE = "tasks.finish_split_aggregation["


def _succeeded(task: str, log: str) -> int:
    """How many runs of ``task`` the worker log shows as succeeded."""
    return sum(1 for line in log.splitlines() if task in line and "succeeded" in line)


def _workers(instance, count: int) -> list:
    workers = [_celery_worker(instance, f"worker{n}", **SPLIT) for n in range(count)]
    for worker in workers:
        wait_until(lambda w=worker: "ready" in _read(w), timeout=120, what="a worker to start")
    return workers


def _stop(workers) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def _queue(instance) -> None:
    queued = finished(invenio(instance, *[a for a in RUN if a != "--eager"], **SPLIT))
    assert queued[0] == 0 and "queued as Celery task" in queued[1], queued


def test_a_run_split_over_two_workers_writes_the_documents_of_one_run(
    site, instance, fault_proxy, clean_run
):
    """Parts on two workers, each under its own lock: the documents and bookmarks of
    one single-process run, and the last step once every part is done."""
    wipe()
    workers = _workers(instance, 2)
    try:
        _queue(instance)
        wait_until(
            lambda: any(_succeeded(SPLIT_DONE, _read(w)) for w in workers),
            timeout=300,
            what="the split run to end",
        )
        logs = [_read(w) for w in workers]
    finally:
        _stop(workers)
    assert all(_succeeded(PART_DONE, log) for log in logs), "each worker ran a part"
    assert sum(_succeeded(PART_DONE, log) for log in logs) == 3
    assert_same(outputs(), clean_run["docs"])
    assert not any(lock_is_held(f"{LOCK_NAME}:{part}") for part in "0123")


def test_a_worker_killed_mid_part_then_a_rerun_ends_as_a_clean_run(
    site, instance, fault_proxy, clean_run
):
    """A worker dies in its part: the other parts end; the part's lock stays (a run
    cannot start over it) until a run on this host takes it over, and ends clean."""
    wipe()
    workers = _workers(instance, 2)
    try:
        _queue(instance)
        wait_until(
            lambda: any(lock_is_held(f"{LOCK_NAME}:{part}") for part in "12"),
            timeout=120,
            what="a records part to start",
        )
        fault_proxy.pause()  # the part waits on the engine: it is mid-part when killed
        try:
            victim = next(
                w
                for w in workers
                for part in "12"
                if (holder := current_holder(f"{LOCK_NAME}:{part}")) and holder.pid == w.pid
            )
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=120)
        finally:
            fault_proxy.resume()
        assert victim.returncode == -signal.SIGKILL
    finally:
        _stop(workers)
    code, out, err = finished(invenio(instance, *RUN))
    assert code == 0, err
    assert "Took over the aggregation-lock:" in err
    assert_same(outputs(), clean_run["docs"])


def _read(process) -> str:
    return process.log.read_text()


def test_a_run_past_its_deadline_stops_in_one_line_then_the_next_run_completes(
    site, instance, fault_proxy, clean_run
):
    """``COMMUNITY_STATS_RUN_DEADLINE``: the run stops between communities, lock released,
    bookmarks only where work was finished."""
    wipe()
    code, out, err = finished(invenio(instance, *RUN, COMMUNITY_STATS_RUN_DEADLINE="0.001"))
    assert code == 1, err
    assert error_lines(err) == [
        "Error: the aggregation run stopped at its deadline of 0.001 s "
        "(COMMUNITY_STATS_RUN_DEADLINE); what it finished is kept, and the next run goes "
        "on from there."
    ], err
    assert not lock_is_held(LOCK_NAME)
    partial = outputs()
    assert partial != clean_run["docs"]
    bookmarks = {key: doc for key, doc in partial.items() if "bookmarks" in key[0]}
    for key, doc in bookmarks.items():  # every bookmark names a day whose documents exist
        if "date" in doc and not key[1].startswith(("marker::", "setting::")):
            assert partial_has_documents(partial, doc), (key, doc)

    code, out, err = finished(invenio(instance, *RUN))
    assert code == 0, err
    assert_same(outputs(), clean_run["docs"])


def partial_has_documents(docs: dict, bookmark: dict) -> bool:
    """True when the bookmarked aggregation has the community's document of that day."""
    name, community_id, day = bookmark["aggregation"], bookmark["community_id"], bookmark["date"]
    index = f"stats-{name}-{day[:4]}"
    return (index, f"{community_id}-{day[:10]}") in docs
