"""Process files and liveness: stale PID files, reused PIDs, planted symlinks."""

import json
import os
import subprocess
import sys

import psutil
import pytest

from invenio_stats_dashboard.processes import files
from invenio_stats_dashboard.processes.manager import PACKAGE, ProcessManager, ProcessNotRunning

NAME = "community-event-generation"


def _pid_record(pid, create_time, cmdline):
    return {
        "pid": pid,
        "name": NAME,
        "package": PACKAGE,
        "create_time": create_time,
        "cmdline": cmdline,
    }


def test_stale_pid_file_of_a_finished_process(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    created = psutil.Process(child.pid).create_time()
    child.wait()
    files.write_json(tmp_path, f"{NAME}.pid", _pid_record(child.pid, created, None))
    files.write_json(tmp_path, f"{NAME}.status.json", {"state": "running"})
    manager = ProcessManager(tmp_path)
    info = manager.info(NAME)
    assert info.state == "stale" and not info.alive
    with pytest.raises(ProcessNotRunning):
        manager.cancel(NAME, timeout=1)
    assert files.read_json(tmp_path, f"{NAME}.status.json")["state"] == "failed"


def test_reused_pid_is_not_taken_for_the_worker(tmp_path):
    """The PID is alive but belongs to another program (create time / command differ)."""
    me = psutil.Process(os.getpid())
    files.write_json(
        tmp_path, f"{NAME}.pid", _pid_record(me.pid, me.create_time() - 1000, ["python", "-m", "x"])
    )
    files.write_json(tmp_path, f"{NAME}.status.json", {"state": "running"})
    info = ProcessManager(tmp_path).info(NAME)
    assert info.state == "stale" and not info.alive
    files.write_json(tmp_path, f"{NAME}.pid", _pid_record(me.pid, me.create_time(), ["nope"]))
    assert ProcessManager(tmp_path).info(NAME).state == "stale"
    files.write_json(tmp_path, f"{NAME}.pid", _pid_record(me.pid, me.create_time(), me.cmdline()))
    assert ProcessManager(tmp_path).info(NAME).alive


def test_planted_symlinks_are_replaced_not_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    for suffix in (".status.json", ".log", ".pid"):
        (pid_dir / f"{NAME}{suffix}").symlink_to(victim)
    with pytest.raises(files.UnsafeFileError):
        files.read_json(pid_dir, f"{NAME}.pid")
    assert ProcessManager(pid_dir).list() == []
    files.write_json(pid_dir, f"{NAME}.status.json", {"state": "x"})
    os.close(files.create_file(pid_dir, f"{NAME}.log"))
    assert victim.read_text() == "precious"
    assert not (pid_dir / f"{NAME}.status.json").is_symlink()
    assert oct((pid_dir / f"{NAME}.status.json").stat().st_mode & 0o777) == "0o600"
    assert not (pid_dir / f"{NAME}.log").is_symlink()


def test_pid_dir_must_be_a_directory(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(files.UnsafeFileError):
        ProcessManager(tmp_path / "link")
    created = ProcessManager(tmp_path / "new" / "dir")
    assert oct(created.pid_dir.stat().st_mode & 0o777) == "0o700"


@pytest.mark.skipif(os.geteuid() != 0, reason="planting another user's file needs chown")
def test_files_of_another_user_are_not_trusted(tmp_path):
    """A PID file planted by another user naming one of our processes: never signalled."""
    from invenio_stats_dashboard.processes.manager import ProcessError

    victim = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        process = psutil.Process(victim.pid)
        files.write_json(
            tmp_path,
            f"{NAME}.pid",
            _pid_record(victim.pid, process.create_time(), process.cmdline()),
        )
        os.chown(tmp_path / f"{NAME}.pid", 12345, 12345)
        manager = ProcessManager(tmp_path)
        with pytest.raises(files.UnsafeFileError, match="another user"):
            manager.cancel(NAME, timeout=1)
        with pytest.raises(ProcessError, match="another user"):
            manager.start(NAME, "os:getcwd", {})
        assert victim.poll() is None
        assert manager.list() == []
    finally:
        victim.kill()
        victim.wait()


def test_pid_dir_others_can_change_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(files.UnsafeFileError, match="other users"):
        ProcessManager(shared)
    shared.chmod(0o1777)  # sticky, like /tmp: others cannot replace our files
    assert ProcessManager(shared).pid_dir == shared


def test_list_package_only_and_foreign_pid_files(tmp_path):
    (tmp_path / "nginx.pid").write_text(f"{os.getpid()}\n")
    files.write_json(tmp_path, f"{NAME}.pid", _pid_record(2**22 + 17, 1.0, None))
    files.write_json(tmp_path, f"{NAME}.status.json", {"state": "completed"})
    manager = ProcessManager(tmp_path)
    everything = {(i.name, i.state, i.package) for i in manager.list()}
    assert everything == {("nginx", "running", False), (NAME, "completed", True)}
    assert [(i.name, i.state) for i in manager.list(package_only=True)] == [(NAME, "completed")]


@pytest.mark.parametrize("name", ["../etc/passwd", "Bad Name", "", "a/b"])
def test_process_names_cannot_escape_the_directory(tmp_path, name):
    with pytest.raises(ValueError, match="invalid process name"):
        ProcessManager(tmp_path).info(name)


def test_tail_reads_the_last_lines(tmp_path):
    fd = files.create_file(tmp_path, "x.log")
    os.write(fd, "".join(f"line {n}\n" for n in range(5000)).encode())
    os.close(fd)
    assert files.tail(tmp_path, "x.log", 3) == ["line 4997", "line 4998", "line 4999"]
    assert json.loads(json.dumps(files.tail(tmp_path, "x.log", 0))) == []
