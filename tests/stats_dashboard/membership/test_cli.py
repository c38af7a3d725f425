"""``invenio community-stats community-events generate|status``: output and bad input."""

import pytest

from invenio_stats_dashboard.cli import cli

from .conftest import history_of


@pytest.fixture()
def run(app):
    runner = app.test_cli_runner()

    def _run(*args):
        return runner.invoke(cli, ["community-events", *args])

    return _run


def _table(output: str) -> dict[str, list[str]]:
    """Rows of the aligned table, by first column."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("COMMUNITY"))
    return {line.split()[0]: line.split() for line in lines[start + 2 :] if line.strip()}


def test_status_then_generate_then_status(run, site):  # noqa: F811
    result = run("status")
    assert result.exit_code == 0, result.output
    assert "Records checked: 4" in result.output
    assert "Records lacking events: 4" in result.output
    assert "Events missing: 13" in result.output
    rows = _table(result.output)
    assert rows["global"][1:] == ["3", "4", "5"]
    assert rows[site["alpha"]][1:] == ["1", "2", "3"]
    assert rows[site["gamma"]][1:] == ["0", "1", "2"]

    result = run("generate", "--no-show-progress")
    assert result.exit_code == 0, result.output
    assert "Records checked                4" in result.output
    assert "Events created                 13" in result.output

    result = run("status", "--community-id", "alpha", "--community-details")
    assert result.exit_code == 0, result.output
    assert "Records lacking events: 0" in result.output
    rows = _table(result.output)
    # COMMUNITY SLUG TITLE RECORDS LACKING MISSING STORED FIRST LAST
    assert rows[site["alpha"]] == [
        site["alpha"],
        "alpha",
        "Alpha",
        "1",
        "0",
        "0",
        "3",
        "2019-03-04",
        rows[site["alpha"]][-1],
    ]
    assert "global" not in rows


def test_generate_record_ids_accepts_lists(run, site):  # noqa: F811
    result = run(
        "generate", "--no-show-progress", "--record-ids", f"{site['r1']['id']},{site['r4']['id']}"
    )
    assert result.exit_code == 0, result.output
    assert "Records checked                2" in result.output
    assert len(history_of(site["r1"].id)) == 2
    assert len(history_of(site["r4"].id)) == 1
    assert history_of(site["r2"].id) == []


def test_record_ids_as_the_spec_writes_them(run, site):  # noqa: F811
    """``--record-ids abc123 def456 ghi789``: several values after one option."""
    ids = [site[k]["id"] for k in ("r1", "r4", "r2")]
    result = run("status", "--record-ids", *ids)
    assert result.exit_code == 0, result.output
    assert "Records checked: 3" in result.output
    result = run("generate", "--no-show-progress", "--record-ids", *ids[:2])
    assert result.exit_code == 0, result.output
    assert "Records checked                2" in result.output
    assert history_of(site["r2"].id) == []
    stray = run("status", ids[0])
    assert stray.exit_code == 2 and "unexpected extra arguments" in stray.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--community-id", "no-such-community"], "Community not found: no-such-community"),
        (["--start-date", "2024-02-30"], "YYYY-MM-DD"),
        (["--end-date", "yesterday"], "YYYY-MM-DD"),
        (["--start-date", "2024-02-02", "--end-date", "2024-02-01"], "after the end date"),
    ],
)
@pytest.mark.parametrize("command", ["generate", "status", "generate-background"])
def test_bad_input_is_a_usage_error(run, db, tmp_path, command, args, message):
    extra = ["--pid-dir", str(tmp_path)] if command == "generate-background" else []
    result = run(command, *args, *extra)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "community-event-generation.pid").exists()


def test_commands_refuse_when_disabled(run, app, db, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "COMMUNITY_STATS_ENABLED", False)
    for args in (["generate"], ["status"], ["generate-background", "--pid-dir", str(tmp_path)]):
        result = run(*args)
        assert result.exit_code == 1
        assert "COMMUNITY_STATS_ENABLED is False" in result.output
    assert list(tmp_path.iterdir()) == []


def test_status_json_progress_lines_and_unknown_record_ids(run, app, site):  # noqa: F811
    import json

    result = run("status", "--format", "json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["records_checked"] == 4
    assert summary["communities"]["global"]["records"] == 3

    # off a terminal the progress comes as lines on stderr, and a last line
    app.config["COMMUNITY_STATS_PROGRESS_INTERVAL"] = 0
    try:
        result = run("generate", "--record-ids", site["r1"]["id"])
    finally:
        app.config.pop("COMMUNITY_STATS_PROGRESS_INTERVAL")
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert lines and all(line.startswith("Generating membership events: ") for line in lines)
    assert lines[-1].startswith("Generating membership events: done, 1/1 in ")
    assert "Records checked                1" in result.stdout

    # a typo in a record id is named, and nothing runs
    for command in ("generate", "status"):
        result = run(command, "--record-ids", f"{site['r1']['id']},nope-123")
        assert result.exit_code == 2, result.output
        assert result.stderr.strip().splitlines() == [
            "Error: Invalid value for '--record-ids': no record has the id nope-123 "
            f"(see 'community-stats community-events {command} --help')"
        ]


def test_two_backfills_never_run_at_once(run, site):  # noqa: F811
    from invenio_stats_dashboard.core.locks import run_lock
    from invenio_stats_dashboard.membership.service import BACKFILL_LOCK

    with run_lock(BACKFILL_LOCK, 60, "community-events generate"):
        result = run("generate", "--no-show-progress")
    assert result.exit_code == 1, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("Error: community-events generate (pid ")
    assert "holds the membership-backfill lock" in line
    result = run("status")  # a dry plan needs no lock
    assert result.exit_code == 0, result.output
