"""The extensions load through their entry points, in the app and in the ``invenio`` CLI."""

import os
import subprocess
import sys
from pathlib import Path

import pytest


def test_extensions_registered(app):
    assert "invenio-stats-dashboard" in app.extensions
    assert "invenio-record-importer-kcworks" in app.extensions
    assert app.config["COMMUNITY_STATS_ENABLED"] is True
    assert app.config["RECORD_IMPORTER_HEALTH_CHECK_TIMEOUT"] == "5s"


@pytest.mark.parametrize(
    "group, text", [("community-stats", "Community statistics"), ("importer", "importer tools")]
)
def test_invenio_cli_groups(tmp_path: Path, group: str, text: str):
    """``invenio <group> --help`` works inside an instance (entry point ``flask.commands``)."""
    (tmp_path / "invenio.cfg").write_text(
        f"SQLALCHEMY_DATABASE_URI = {os.environ['SQLALCHEMY_DATABASE_URI']!r}\n"
        "SEARCH_HOSTS = ['127.0.0.1:9']\n"
    )
    env = {**os.environ, "INVENIO_INSTANCE_PATH": str(tmp_path)}
    invenio = Path(sys.executable).with_name("invenio")
    result = subprocess.run(
        [str(invenio), group, "--help"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert text in result.stdout


def test_options_that_read_the_database_work_in_the_real_cli(tmp_path: Path, db):
    """``--community-id`` is resolved while the command line is parsed: in ``invenio``
    (not only under a test runner that already holds an app context)."""
    (tmp_path / "invenio.cfg").write_text(
        f"SQLALCHEMY_DATABASE_URI = {os.environ['SQLALCHEMY_DATABASE_URI']!r}\n"
        "SEARCH_HOSTS = ['127.0.0.1:9']\n"
    )
    env = {**os.environ, "INVENIO_INSTANCE_PATH": str(tmp_path)}
    invenio = Path(sys.executable).with_name("invenio")
    for args in (
        ["community-stats", "status", "--community-id", "no-such-community"],
        ["community-stats", "read", "-c", "no-such-community"],
        ["community-stats", "community-events", "status", "-c", "no-such-community"],
    ):
        result = subprocess.run(
            [str(invenio), *args], env=env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert "Community not found: no-such-community" in result.stderr


def test_committed_bundle_is_what_the_sources_build(tmp_path: Path):
    """The dashboard's prebuilt bundle is reproducible from frontend/ (locked deps)."""
    root = Path(__file__).resolve().parents[1]
    frontend = root / "frontend"
    assert (frontend / "node_modules" / "esbuild").exists(), "run ./run-tests.sh (npm ci)"
    result = subprocess.run(
        ["node", "build.mjs", "--outdir", str(tmp_path)],
        cwd=frontend,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    shipped = root / "invenio_stats_dashboard" / "ui" / "static" / "stats_dashboard"
    for name in ("stats-dashboard.js", "stats-dashboard.css"):
        assert (tmp_path / name).read_bytes() == (shipped / name).read_bytes(), (
            f"{name} is stale: run scripts/build-frontend.sh and commit the bundle"
        )
