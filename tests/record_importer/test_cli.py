"""``invenio importer update_created_dates``: options, output, exit codes, background chain."""

import re
import socket

import pytest
from celery import current_app as celery_app
from celery.signals import task_prerun

from invenio_record_importer_kcworks.cli import cli

from .conftest import (
    MIGRATED,
    community_db_created,
    community_indexed_created,
    db_created,
    indexed_created,
    utc,
)

COMMUNITY_CREATED = "2024-05-02T08:00:00Z"
BAD_VALUES = ["", "03/08/2017", "2017/2018", "2017-02-30", "0000-00-00 00:00:00", "2017"]


def invoke(app, *args, name="update_created_dates"):
    """Run the command in-process, as ``invenio importer <name> ...``."""
    return app.test_cli_runner().invoke(cli, [name, *args])


@pytest.fixture()
def site(running_app, community_factory, legacy_record):
    """Two repairable records in group "42", twelve unparseable ones, one group community."""
    good = [
        legacy_record("2013-03-03T03:03:03Z", groups=["42"]),
        legacy_record("2012-02-02T22:00:00-05:00", groups=["42"]),
    ]
    bad = [legacy_record(BAD_VALUES[n % len(BAD_VALUES)], groups=["42"]) for n in range(12)]
    community = community_factory(
        "answers", custom_fields={"kcr:commons_group_id": "42"}, created=COMMUNITY_CREATED
    )
    return {"good": good, "bad": bad, "community": community}


@pytest.fixture()
def unreachable_health(app, monkeypatch):
    """Point the health checks at a local port where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setitem(
        app.config, "RECORD_IMPORTER_HEALTH_CHECK_HOSTS", [{"host": "127.0.0.1", "port": port}]
    )


@pytest.fixture()
def started_tasks():
    """Names of the Celery tasks in the order they start."""
    names = []

    def record(sender=None, **kwargs):
        names.append(sender.name.rsplit(".", 1)[-1])

    task_prerun.connect(record)
    yield names
    task_prerun.disconnect(record)


def _unchanged(site) -> bool:
    records = site["good"] + site["bad"]
    return all(db_created(r.id) == utc(MIGRATED) for r in records) and community_db_created(
        site["community"].id
    ) == utc(COMMUNITY_CREATED)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--records-only", "--communities-only"], "Cannot use both"),
        (["--start-date", "2020-13-01"], "--start-date must be a day as YYYY-MM-DD"),
        (["--end-date", "2020/01/01"], "--end-date must be a day as YYYY-MM-DD"),
        (
            ["--start-date", "2020-02-01", "--end-date", "2020-01-31"],
            "the start date 2020-02-01 is after the end date 2020-01-31",
        ),
        (["--batch-size", "0"], "0 is not in the range x>=1"),
        (["--batch-size", "many"], "is not a valid integer"),
    ],
)
def test_bad_options_exit_2_and_change_nothing(app, site, args, message, search_clear):
    """Bad options: one clear error on stderr, exit status 2, nothing written."""
    result = invoke(app, *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert _unchanged(site)


def test_foreground_run(app, site, search_clear):
    """Records then communities: banners, results, the first ten errors, exit 3."""
    result = invoke(app, "--batch-size", "5")

    assert result.exit_code == 3, result.output  # unparseable legacy dates: per-item errors
    out = result.stdout
    assert out.index("Updating record created dates...") < out.index(
        "Updating community created dates..."
    )
    assert (
        "Record Update Results:\n  Total found: 14\n  Updated: 2\n  Skipped: 0\n  Errors: 12"
        in (out)
    )
    error_lines = re.findall(r"^  - \S+ \([0-9a-f-]{36}\): Invalid timestamp format", out, re.M)
    assert len(error_lines) == 10
    assert "  ... and 2 more" in out
    assert (
        "Community Update Results:\n  Total found: 1\n  Updated: 1\n  Skipped: 0\n"
        "  No records: 0\n  Errors: 0" in out
    )
    assert "some items could not be updated" in out
    assert "DRY RUN" not in out
    assert "\a" not in result.output
    assert db_created(site["good"][0].id) == utc("2013-03-03T03:03:03Z")
    assert indexed_created(site["good"][1].id) == utc("2012-02-03T03:00:00Z")
    assert community_db_created(site["community"].id) == utc("2012-02-03T00:00:00Z")
    assert community_indexed_created(site["community"].id) == utc("2012-02-03T00:00:00Z")


def test_records_only_dry_run_verbose(app, site, search_clear):
    """A dry run says so first, in its results and last; nothing changes."""
    result = invoke(app, "--records-only", "--dry-run", "--verbose")

    assert result.exit_code == 3, result.output  # the twelve that would fail
    out = result.stdout
    assert out.startswith(f"{'=' * 70}\nDRY RUN: nothing will be written.\n")
    assert out.rstrip().splitlines()[-1] == "DRY RUN: nothing was written."
    assert "Updating record created dates" in out
    assert "Updating community created dates" not in out
    assert (
        "Record Update Results (DRY RUN):\n  Total found: 14\n  Would update: 2\n"
        "  Skipped: 0\n  Would fail: 12\n\nCannot be updated:\n" in out
    )
    assert "Updated:" not in out and "Errors" not in out
    assert result.stderr.count("[DRY RUN] Would update record") == 2
    assert result.stderr.count("cannot be updated: Invalid timestamp format") == 12
    assert "2 would be updated, 0 skipped, 12 errors" in result.stderr
    assert "Failed to update" not in result.output
    assert _unchanged(site)


def test_clean_run_exits_0(app, legacy_record, search_clear):
    """Every item updated: exit 0, "Update complete!"; the dry run before it exits 0 too."""
    record = legacy_record("2013-03-03T03:03:03Z")

    dry = invoke(app, "--records-only", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "Would update: 1" in dry.stdout
    assert db_created(record.id) == utc(MIGRATED)

    result = invoke(app, "--records-only")
    assert result.exit_code == 0, result.output
    assert "Updated: 1\n  Skipped: 0\n  Errors: 0" in result.stdout
    assert "Update complete!" in result.stdout
    assert db_created(record.id) == utc("2013-03-03T03:03:03Z")


def test_help_renders_paragraphs_and_examples(app):
    """``--help``: no literal ``\\b``, the exit codes and each example on a line of its own."""
    result = invoke(app, "--help")

    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert "\\b" not in result.output and "\b" not in result.output
    for example in [
        "invenio importer update_created_dates --dry-run --verbose",
        "invenio importer update_created_dates",
        "invenio importer update_created_dates --records-only \\",
        "--start-date 2020-01-01 --end-date 2020-12-31",
        "invenio importer update_created_dates --communities-only",
        "invenio importer update_created_dates --background",
    ]:
        assert example in [line.strip() for line in lines], example
    for code in "0123":
        assert any(line.strip().startswith(f"{code}  ") for line in lines), code
    assert "--start-date YYYY-MM-DD" in result.output


def test_group_help_lists_the_command_once(app):
    """``importer --help`` lists the command once; the dashed alias still runs."""
    result = app.test_cli_runner().invoke(cli, ["--help"])

    assert result.exit_code == 0
    assert "update_created_dates" in result.output
    assert "update-created-dates" not in result.output
    alias = invoke(app, "--help", name="update-created-dates")
    assert alias.exit_code == 0
    assert "Update created dates" in alias.output


def test_dashed_name_and_communities_only(app, site, search_clear):
    """``update-created-dates`` is the same command; --communities-only leaves records alone."""
    result = invoke(app, "--communities-only", name="update-created-dates")

    assert result.exit_code == 0, result.output
    assert "Community Update Results:" in result.output
    assert "Updating record created dates" not in result.output
    assert community_db_created(site["community"].id) == utc("2012-02-03T00:00:00Z")
    assert db_created(site["good"][0].id) == utc(MIGRATED)


def test_date_range_limits_records_only(app, site, legacy_record, search_clear):
    """--start-date/--end-date pick records by their current created day, inclusive."""
    inside = legacy_record("2005-05-05", created="2024-06-30T23:59:00Z")
    result = invoke(app, "--records-only", "--start-date", "2024-06-01", "--end-date", "2024-06-30")

    assert result.exit_code == 0, result.output
    assert "Total found: 1\n  Updated: 1" in result.stdout
    assert db_created(inside.id) == utc("2005-05-05T00:00:00Z")
    assert _unchanged(site)


def test_stopped_early_exits_1(app, site, unreachable_health, search_clear):
    """An unhealthy cluster stops the records and the communities are not started."""
    result = invoke(app, "--batch-size", "4")

    assert result.exit_code == 1  # stopped early wins over the per-item errors seen so far
    assert "Stopped early" in result.stderr
    assert "Update stopped early" in result.stdout
    assert "after 4 of 14 records" in result.stderr
    assert "Community updates not started." in result.stderr
    assert "Updating community created dates" not in result.output
    assert community_db_created(site["community"].id) == utc(COMMUNITY_CREATED)


def test_background_chain_runs_records_then_communities(app, site, started_tasks, search_clear):
    """--background queues a chain: the community task starts after the record task."""
    result = invoke(app, "--background", "--batch-size", "5")

    assert result.exit_code == 0, result.output
    assert started_tasks == [
        "update_record_created_dates_task",
        "update_community_created_dates_task",
    ]
    record_id = re.search(r"Record update task queued: (\S+)", result.output).group(1)
    community_id = re.search(r"Community update task queued: (\S+)", result.output).group(1)
    assert record_id != community_id
    assert f"  records: {record_id}" in result.output
    assert "celery -A invenio_app.celery" in result.output
    assert db_created(site["good"][0].id) == utc("2013-03-03T03:03:03Z")
    assert community_db_created(site["community"].id) == utc("2012-02-03T00:00:00Z")

    # the tasks published their progress, with counts, to the result backend
    progress = celery_app.AsyncResult(record_id)
    assert progress.state == "PROGRESS"
    assert progress.info["processed"] == 14
    assert (progress.info["updated"], progress.info["errors"]) == (2, 12)


def test_background_stop_keeps_communities_from_starting(
    app, site, started_tasks, unreachable_health, search_clear
):
    """A record task that stopped early fails, so the chained community task never runs."""
    result = invoke(app, "--background", "--batch-size", "4")

    assert result.exit_code == 1
    assert "stopped early" in result.stderr
    assert started_tasks == ["update_record_created_dates_task"]
    assert community_db_created(site["community"].id) == utc(COMMUNITY_CREATED)
