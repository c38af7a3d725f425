"""Background processes with a real worker: start, refuse a second start, status, list,
cancel in the middle of a backfill, re-run to completion; forced kill; failure."""

import re
import time

import pytest

from invenio_stats_dashboard.cli import cli
from invenio_stats_dashboard.membership.service import generate_community_events
from invenio_stats_dashboard.processes import files

from ..membership.conftest import delete_history, history_of
from .conftest import SITE_RECORDS

NAME = "community-event-generation"


@pytest.fixture()
def run(app):
    runner = app.test_cli_runner()

    def _run(*args):
        return runner.invoke(cli, list(args))

    return _run


def wait_for(pid_dir, predicate, timeout=120):
    """Poll the status file until ``predicate(status)``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = files.read_json(pid_dir, f"{NAME}.status.json") or {}
        if predicate(status):
            return status
        time.sleep(0.2)
    raise AssertionError(f"status never matched; last: {status}")


def field(output: str, label: str) -> str:
    """Value of an aligned ``label  value`` line of ``processes status``."""
    for line in output.splitlines():
        if line.startswith(label + "  "):
            return line[len(label) :].strip()
    raise AssertionError(f"no {label!r} line in:\n{output}")


def complete_histories(site) -> int:
    """Records whose history is complete (global + community entry); others have none."""
    complete = 0
    for record_id in site["records"]:
        kinds = sorted((c, t) for c, t, _ in history_of(record_id))
        assert kinds in ([], sorted([("global", "added"), (site["community"], "added")]))
        complete += bool(kinds)
    return complete


def test_cancel_mid_backfill_then_rerun_completes(run, committed_site, child_env, tmp_path):
    delete_history()
    result = run("community-events", "generate-background", "--pid-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert f"Started {NAME} (PID" in result.output

    again = run("community-events", "generate-background", "--pid-dir", str(tmp_path))
    assert again.exit_code == 1
    assert "already running" in again.output

    status = wait_for(tmp_path, lambda s: (s.get("progress") or {}).get("done", 0) >= 2)
    assert status["state"] == "running"
    assert status["progress"]["total"] == SITE_RECORDS

    listed = run("processes", "list", "--pid-dir", str(tmp_path), "--package-only")
    assert listed.exit_code == 0
    row = next(line for line in listed.output.splitlines() if line.startswith(NAME))
    assert row.split()[2] == "running"

    shown = run("processes", "status", NAME, "--pid-dir", str(tmp_path), "--show-log")
    assert shown.exit_code == 0
    assert field(shown.output, "State") == "running"
    assert re.fullmatch(rf"\d+/{SITE_RECORDS} \(\d+\.\d%\)", field(shown.output, "Progress"))
    assert "progress" in shown.output  # log lines

    cancelled = run("processes", "cancel", NAME, "--pid-dir", str(tmp_path), "--timeout", "30")
    assert cancelled.exit_code == 0, cancelled.output
    assert "stopped" in cancelled.output
    status = files.read_json(tmp_path, f"{NAME}.status.json")
    assert status["state"] == "cancelled"
    assert status["result"]["cancelled"] is True
    done = complete_histories(committed_site)
    assert 2 <= done < SITE_RECORDS
    assert status["result"]["events_created"] == 2 * done

    shown = run("processes", "status", NAME, "--pid-dir", str(tmp_path))
    assert field(shown.output, "State") == "cancelled"
    not_running = run("processes", "cancel", NAME, "--pid-dir", str(tmp_path))
    assert not_running.exit_code == 1
    assert "not running" in not_running.output

    summary = generate_community_events()
    assert summary["events_created"] == 2 * (SITE_RECORDS - done)
    assert complete_histories(committed_site) == SITE_RECORDS
    assert generate_community_events()["events_created"] == 0


def test_background_run_to_completion(run, committed_site, child_env, tmp_path, app):
    delete_history()
    result = run(
        "community-events",
        "generate-background",
        "--pid-dir",
        str(tmp_path),
        "--community-id",
        "background",
    )
    assert result.exit_code == 0, result.output
    status = wait_for(tmp_path, lambda s: s.get("state") in ("completed", "failed"))
    assert status["state"] == "completed", status
    assert status["result"]["events_created"] == SITE_RECORDS  # the community's only
    assert status["progress"] == {"done": SITE_RECORDS, "total": SITE_RECORDS, "percent": 100.0}
    for record_id in committed_site["records"]:
        assert [(c, t) for c, t, _ in history_of(record_id)] == [
            (committed_site["community"], "added")
        ]
    shown = run("processes", "status", NAME, "--pid-dir", str(tmp_path))
    assert field(shown.output, "State") == "completed"
    assert field(shown.output, "Result events_created") == str(SITE_RECORDS)
    assert field(shown.output, "Progress") == f"{SITE_RECORDS}/{SITE_RECORDS} (100.0%)"


def test_stubborn_worker_is_killed_after_timeout(run, committed_site, child_env, tmp_path):
    from invenio_stats_dashboard.processes.manager import ProcessManager

    manager = ProcessManager(tmp_path)
    manager.start(NAME, "tests.stats_dashboard.processes.jobs:stubborn", {"seconds": 120})
    wait_for(tmp_path, lambda s: s.get("step") == "sleeping")
    result = run("processes", "cancel", NAME, "--pid-dir", str(tmp_path), "--timeout", "1")
    assert result.exit_code == 0, result.output
    assert "killed" in result.output
    info = manager.info(NAME)
    assert info.state == "killed" and not info.alive


def test_failing_worker_reports_the_error(committed_site, child_env, tmp_path):
    from invenio_stats_dashboard.processes.manager import ProcessManager

    manager = ProcessManager(tmp_path)
    manager.start(NAME, "tests.stats_dashboard.processes.jobs:failing", {})
    status = wait_for(tmp_path, lambda s: s.get("state") in ("completed", "failed"))
    assert status["state"] == "failed"
    assert status["error"] == "RuntimeError: boom"
    assert any("RuntimeError: boom" in line for line in manager.tail_log(NAME, 50))
