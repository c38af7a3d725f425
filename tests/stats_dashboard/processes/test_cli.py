"""``processes status|cancel|list`` on files alone (no worker): messages and exit codes."""

import json
import os

import pytest

from invenio_stats_dashboard.cli import cli
from invenio_stats_dashboard.processes import files
from invenio_stats_dashboard.processes.manager import PACKAGE

NAME = "community-event-generation"


@pytest.fixture()
def run(app):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(cli, ["processes", *args])


def test_unknown_and_invalid_names(run, tmp_path):
    result = run("status", "aggregation", "--pid-dir", str(tmp_path))
    assert result.exit_code == 1
    assert f"No process named aggregation in {tmp_path}" in result.output
    result = run("cancel", "aggregation", "--pid-dir", str(tmp_path))
    assert result.exit_code == 1
    assert "aggregation is not running" in result.output
    result = run("status", "../x", "--pid-dir", str(tmp_path))
    assert result.exit_code == 2
    assert "invalid process name" in result.output
    result = run("status", NAME, "--pid-dir", str(tmp_path), "--log-lines", "0")
    assert result.exit_code == 2


def test_list_and_status_of_a_stale_process(run, tmp_path):
    files.write_json(
        tmp_path,
        f"{NAME}.pid",
        {"pid": 2**22 + 3, "name": NAME, "package": PACKAGE, "create_time": 1.0, "cmdline": []},
    )
    files.write_json(
        tmp_path,
        f"{NAME}.status.json",
        {"state": "running", "progress": {"done": 3, "total": 12, "percent": 25.0}},
    )
    (tmp_path / "other.pid").write_text(f"{os.getpid()}\n")
    result = run("list", "--pid-dir", str(tmp_path))
    assert result.exit_code == 0
    rows = {line.split()[0]: line.split() for line in result.output.splitlines()[2:]}
    assert rows[NAME][1:5] == [str(2**22 + 3), "stale", "3/12", "(25.0%)"]
    assert rows["other"][1:3] == [str(os.getpid()), "running"]
    assert rows["other"][-1] == "no"
    result = run("list", "--pid-dir", str(tmp_path), "--format", "json")
    assert result.exit_code == 0
    listed = {p["name"]: p for p in json.loads(result.output)}
    assert listed[NAME]["state"] == "stale" and listed[NAME]["pid"] == 2**22 + 3
    assert listed[NAME]["status"]["progress"] == {"done": 3, "total": 12, "percent": 25.0}
    result = run("list", "--pid-dir", str(tmp_path), "--package-only")
    assert "other" not in result.output
    result = run("status", NAME, "--pid-dir", str(tmp_path))
    assert result.exit_code == 0
    assert "stale (PID file names a process that is gone)" in result.output


def test_pid_dir_that_is_a_file(run, tmp_path):
    (tmp_path / "file").write_text("x")
    result = run("list", "--pid-dir", str(tmp_path / "file"))
    assert result.exit_code == 2
    assert "--pid-dir" in result.output
