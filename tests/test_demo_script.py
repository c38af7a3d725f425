"""``run-demo.sh``: a safe ``stop``, its settings, and a demo site that depends on its seed only."""

import os
import subprocess
import time
import urllib.request
import uuid
from dataclasses import astuple
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest

from invenio_stats_dashboard.demo import site as demo_site

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "run-demo.sh"


def run_demo(tmp_path, *args, **env):
    """Run the script on a demo folder of its own (``DEMO_DIR``)."""
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        env={**os.environ, "DEMO_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture()
def spawn():
    """``spawn(argv0)``: a sleeping process whose command line reads ``argv0 300``."""
    started = []

    def _spawn(argv0: str) -> subprocess.Popen:
        process = subprocess.Popen(["bash", "-c", f'exec -a "{argv0}" sleep 300'])
        started.append(process)
        time.sleep(0.2)  # the exec has happened
        return process

    yield _spawn
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()


def _pid_file(path: Path, process: subprocess.Popen, age: float = 0.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{process.pid}\n")
    if age:
        then = time.time() - age
        os.utime(path, (then, then))
    return path


def _stopped(process: subprocess.Popen) -> bool:
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        return False
    return True


def test_stop_stops_the_engine_and_web_app_it_started(tmp_path, spawn):
    engine = spawn("/venv/osmem_server/bin/osmem-server --addr 127.0.0.1:19211")
    web = spawn("python -m invenio_stats_dashboard.demo.serve --port 5000")
    engine_pid = _pid_file(tmp_path / "run" / "osmem.pid", engine)
    web_pid = _pid_file(tmp_path / "run" / "web.pid", web)

    result = run_demo(tmp_path, "stop")

    assert result.returncode == 0, result.stderr
    assert _stopped(engine) and _stopped(web)
    assert not engine_pid.exists() and not web_pid.exists()


def test_stop_leaves_another_program_alone(tmp_path, spawn):
    """A PID now running another program is not killed; the stale PID file goes."""
    other = spawn("vim notes.txt")
    pid_file = _pid_file(tmp_path / "run" / "osmem.pid", other)

    result = run_demo(tmp_path, "stop")

    assert result.returncode == 0
    assert f"not stopping PID {other.pid}: it is not osmem-server any more" in result.stderr
    assert other.poll() is None
    assert not pid_file.exists()


def test_stop_leaves_a_reused_pid_alone(tmp_path, spawn):
    """Even the same program is left alone when it started after the PID file was written."""
    later = spawn("/elsewhere/osmem-server --addr 127.0.0.1:9999")
    _pid_file(tmp_path / "run" / "osmem.pid", later, age=600)

    result = run_demo(tmp_path, "stop")

    assert result.returncode == 0
    assert "a reused PID" in result.stderr
    assert later.poll() is None


def test_engine_pid_file_is_not_in_the_processes_folder():
    """``processes list`` reads STATS_DASHBOARD_PID_DIR: the engine's PID file lives apart."""
    text = SCRIPT.read_text()
    assert 'STATS_DASHBOARD_PID_DIR = "$DEMO/processes"' in text
    assert 'echo $! >"$RUN/osmem.pid"' in text and 'echo $! >"$RUN/web.pid"' in text
    assert "RUN=$DEMO/run" in text


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEMO_REDIS_DB_BASE": "13"}, "DEMO_REDIS_DB_BASE must be a number from 0 to 12"),
        ({"DEMO_REDIS_DB_BASE": "x"}, "DEMO_REDIS_DB_BASE must be a number from 0 to 12"),
        ({"DEMO_SEED": "abc"}, "DEMO_SEED must be a whole number"),
    ],
)
def test_bad_settings_exit_2_before_doing_anything(tmp_path, env, message):
    result = run_demo(tmp_path / "demo", **env)

    assert result.returncode == 2
    assert message in result.stderr
    assert not (tmp_path / "demo").exists()


def test_redis_databases_follow_the_base_setting():
    """The instance configuration takes its four Redis databases from DEMO_REDIS_DB_BASE."""
    text = SCRIPT.read_text()
    assert "REDIS_DB_BASE=${DEMO_REDIS_DB_BASE:-8}" in text
    assert '_REDIS + "/8"' not in text and '_REDIS + "/11"' not in text
    for offset in ("$REDIS_DB_BASE", "$((REDIS_DB_BASE + 1))", "$((REDIS_DB_BASE + 3))"):
        assert f'_REDIS + "/{offset}"' in text


# --------------------------------------------------------------------------- seeded site
class _Record(dict):
    """A published record as the builder reads it (``record["id"]``, parent, files)."""


class _FakeServices:
    """Stand-ins for the services the builder calls, handing out random UUIDs as they do."""

    def __init__(self):
        self.records = {}

    def create_user(self, email):
        return SimpleNamespace(email=email)

    def create_community(self, identity, slug, **kwargs):
        data = {
            "slug": slug,
            "metadata": {"title": kwargs.get("title")},
            "custom_fields": kwargs.get("custom_fields") or {},
        }
        return SimpleNamespace(id=uuid.uuid4(), data=data)

    def publish_record(self, identity, spec):
        record_id = uuid.uuid4().hex
        ids = {str(c.id) for c in spec.communities}
        record = _Record(id=record_id)
        record.parent = SimpleNamespace(communities=SimpleNamespace(ids=ids))
        record.files = SimpleNamespace(enabled=bool(spec.files))
        self.records[record_id] = record
        return record

    def add(self, identity, record_id, data):
        self.records[record_id].parent.communities.ids.add(data["communities"][0]["id"])

    def remove(self, identity, record_id, data):
        self.records[record_id].parent.communities.ids.discard(data["communities"][0]["id"])

    def delete_record(self, identity, record_id, data):
        pass


def _fingerprint(monkeypatch, seed: int) -> tuple:
    """What a build with ``seed`` made, in words that do not depend on UUIDs."""
    fake = _FakeServices()
    for name in ("create_user", "create_community", "publish_record"):
        monkeypatch.setattr(demo_site.factories, name, getattr(fake, name))
    monkeypatch.setattr(demo_site, "record_communities_service", fake)
    monkeypatch.setattr(demo_site, "current_rdm_records_service", fake)
    config = demo_site.DemoSiteConfig(
        communities=6, migrated_communities=3, records=60, seed=seed, today=date(2026, 6, 1)
    )
    site = demo_site.build_demo_site(config)
    slug = {str(c.id): c.data["slug"] for c in site.communities}
    number = {r["id"]: n for n, r in enumerate(site.records)}
    specs = [
        (
            spec.created,
            repr(spec.metadata),
            tuple(sorted(spec.files.items())),
            tuple(c.data["slug"] for c in spec.communities),
            repr(spec.custom_fields.get("hclegacy:record_creation_date")),
        )
        for spec in site.specs.values()
    ]
    changes = [
        (number[record_id], slug[community_id]) for record_id, community_id in site.added
    ] + [
        ("removed", number[record_id], slug[community_id])
        for record_id, community_id in site.removed
    ]
    moments = [astuple(op)[2] for op in site.operations if op.action != "deleted"]
    return tuple(specs), tuple(changes), tuple(moments), site.legacy_errors


def test_same_seed_same_site_different_seed_another(monkeypatch):
    """Two builds with one seed make the same site, whatever UUIDs the services hand out."""
    first = _fingerprint(monkeypatch, 7)

    assert _fingerprint(monkeypatch, 7) == first
    assert _fingerprint(monkeypatch, 7) == first
    assert _fingerprint(monkeypatch, 8) != first
    created = [spec[0] for spec in first[0]]
    assert len(set(created)) == len(created)  # one reading order by creation moment


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_whole_demo_runs_and_prints_the_statistics(tmp_path):
    """The README's demo end to end (a small site): every step runs, the job prints its
    statistics and the pages answer.

    Its own folder, database, ports and Redis databases, so a developer's demo is safe.
    That one seed builds one site is tested above; that the job's numbers are right,
    by ``test_demo_site_statistics`` (the same builder and job, against brute force).
    """
    env = {
        "DEMO_RECORDS": "30",
        "DEMO_DATABASE": "invenio_stats_demo_ci",
        "DEMO_SEARCH_PORT": str(_free_port()),
        "DEMO_WEB_PORT": str(_free_port()),
        "DEMO_REDIS_DB_BASE": "4",
    }
    try:
        result = subprocess.run(
            ["bash", str(SCRIPT)],
            env={**os.environ, "DEMO_DIR": str(tmp_path / "demo"), **env},
            capture_output=True,
            text=True,
            timeout=1200,
        )
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
        assert "Traceback" not in result.stdout + result.stderr
        assert "Statistics for urban-studies" in result.stdout
        port = env["DEMO_WEB_PORT"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=30) as page:
            assert page.status == 200
    finally:
        run_demo(tmp_path / "demo", "stop")
    run_demo(tmp_path / "demo", "clean", **env)
