"""A search engine or database that fails: one line on stderr, exit code 1, no traceback.

This module's site points at a search engine that is not there and at a database that
does not exist (real clients, refused connections).
"""

import socket

import pytest

from invenio_stats_dashboard.cli import cli


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def search_hosts():
    """Nothing listens there."""
    return [{"host": "127.0.0.1", "port": _closed_port()}]


@pytest.fixture(scope="module")
def app_config(app_config):
    uri = app_config["SQLALCHEMY_DATABASE_URI"].rsplit("/", 1)[0] + "/no_such_stats_database"
    app_config.update(SQLALCHEMY_DATABASE_URI=uri, SEARCH_CLIENT_CONFIG={"max_retries": 0})
    return app_config


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["read"], "Error: the search engine cannot be reached"),
        (["status", "--community-id", "global"], "Error: the search engine cannot be reached"),
        (["aggregate", "--eager", "--community-id", "global"], "Error: "),
        (["read", "--community-id", "some-slug"], "Error: the database failed: "),
        (["community-events", "status"], "Error: "),
        (["usage-events", "status"], "Error: the search engine cannot be reached"),
    ],
)
def test_service_failures_are_one_line(base_app, args, message):
    with base_app.app_context():
        result = base_app.test_cli_runner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(message), lines[0]


def test_importer_failures_are_one_line(base_app):
    from invenio_record_importer_kcworks.cli import cli as importer

    with base_app.app_context():
        result = base_app.test_cli_runner().invoke(importer, ["update_created_dates", "--dry-run"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("Error: the search engine cannot be reached")
    )


@pytest.mark.parametrize(
    "args",
    [
        ["aggregate", "--eager"],
        ["aggregate-background"],
        ["status"],
        ["read"],
        ["destroy-indices", "--yes-i-know"],
        ["community-events", "generate"],
        ["community-events", "status"],
        ["community-events", "generate-background"],
        ["usage-events", "migrate"],
        ["usage-events", "migrate-background"],
        ["usage-events", "status"],
        ["usage-events", "generate", "--yes-i-know"],
        ["usage-events", "generate-background"],
        ["usage-events", "clear-bookmarks", "--fresh-start"],
        ["cache", "clear-all", "--yes-i-know"],
        ["cache", "clear-item", "global", "record_snapshots"],
        ["cache", "info"],
        ["cache", "list"],
        ["cache", "test"],
        ["cache", "generate"],
    ],
)
def test_every_command_obeys_the_master_switch(base_app, args):
    base_app.config["COMMUNITY_STATS_ENABLED"] = False
    try:
        with base_app.app_context():
            result = base_app.test_cli_runner().invoke(cli, args)
    finally:
        base_app.config["COMMUNITY_STATS_ENABLED"] = True
    assert result.exit_code == 1, result.output
    assert result.stderr.strip() == (
        "Error: Community stats are disabled (COMMUNITY_STATS_ENABLED is False)."
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["read", "--start-date", "2024-13-01"], "--start-date must be a day as YYYY-MM-DD"),
        (["status", "--format", "xml"], "Invalid value for '--format'"),
        (["aggregate", "--no-such-option"], "No such option"),
        (["no-such-command"], "No such command 'no-such-command'"),
        (["community-events", "generate", "--end-date", "yesterday"], "YYYY-MM-DD"),
        (["usage-events", "migrate", "--batch-size", "0"], "--batch-size"),
        (["cache", "clear-item"], "Missing argument"),
    ],
)
def test_bad_input_is_one_line(base_app, args, message):
    """Bad input: one line on stderr naming the problem and where help is, exit code 2."""
    with base_app.app_context():
        result = base_app.test_cli_runner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ") and message in lines[0], lines[0]
    assert lines[0].endswith("--help')")
