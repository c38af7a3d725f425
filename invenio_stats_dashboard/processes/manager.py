"""Start, watch and cancel detached background processes.

A process is known by its name (e.g. ``community-event-generation``) and three files in
the PID directory: ``<name>.pid`` (JSON: pid, process create time, command line),
``<name>.status.json`` (state, progress, current step, last update, result; kept current
by the worker, see :mod:`.runner`) and ``<name>.log`` (the worker's output).

The worker is started as ``python -m invenio_stats_dashboard.processes.runner`` with an
argument list (never a shell string) in a new session, inheriting the environment, so
it loads the same instance configuration (``INVENIO_INSTANCE_PATH``, ``INVENIO_*``).
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil

from . import files

PACKAGE = "invenio-stats-dashboard"
RUNNER_MODULE = "invenio_stats_dashboard.processes.runner"
PROCESS_NAMES = (
    "community-event-generation",
    "usage-event-generation",
    "event-migration",
    "aggregation",
)
"""Names of the package's background processes (the ``*-background`` commands)."""

RUNNING_STATES = ("starting", "running", "stopping")
FINAL_STATES = ("completed", "failed", "cancelled", "killed")


class ProcessError(RuntimeError):
    """A process command cannot be carried out (message meant for the user)."""


class ProcessAlreadyRunning(ProcessError):
    """A process of that name is running already."""


class ProcessNotRunning(ProcessError):
    """No live process of that name."""


def utcnow_iso() -> str:
    """Now as an ISO UTC timestamp."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def pid_file(name: str) -> str:
    """File name of a process's PID file."""
    return f"{name}.pid"


def status_file(name: str) -> str:
    """File name of a process's status file."""
    return f"{name}.status.json"


def log_file(name: str) -> str:
    """File name of a process's log file."""
    return f"{name}.log"


@dataclass
class ProcessInfo:
    """What is known about one named process."""

    name: str
    pid: int | None
    alive: bool
    package: bool
    state: str
    status: dict = field(default_factory=dict)

    @property
    def stale(self) -> bool:
        """The PID file names a process that is gone (or a reused PID)."""
        return self.state == "stale"


class ProcessManager:
    """Manage the background processes whose files live in ``pid_dir``."""

    def __init__(self, pid_dir: str | os.PathLike):
        """Use ``pid_dir`` (created 0700 when missing; must not be a symlink)."""
        self.pid_dir = files.ensure_dir(pid_dir)

    # ------------------------------------------------------------------ start
    def start(self, name: str, target: str, params: dict, label: str | None = None) -> int:
        """Start ``target(**params, progress=..., should_stop=...)`` detached; return its PID.

        ``target`` is ``"package.module:function"``. Raises :class:`ProcessAlreadyRunning`
        if a live process already has this name.
        """
        files.check_name(name)
        with self._lock(name):
            try:
                current = self.info(name)
            except files.UnsafeFileError as exc:
                raise ProcessError(f"cannot start {name}: {exc}") from None
            if current is not None and current.alive:
                raise ProcessAlreadyRunning(
                    f"process {name} is already running (PID {current.pid}); "
                    f"see: invenio community-stats processes status {name}"
                )
            argv = [
                sys.executable,
                "-m",
                RUNNER_MODULE,
                "--name",
                name,
                "--pid-dir",
                str(self.pid_dir),
                "--target",
                target,
                "--params",
                json.dumps(params),
            ]
            files.write_json(
                self.pid_dir,
                status_file(name),
                {
                    "name": name,
                    "state": "starting",
                    "label": label or name,
                    "params": params,
                    "started": utcnow_iso(),
                    "last_update": utcnow_iso(),
                },
            )
            log_fd = files.create_file(self.pid_dir, log_file(name))
            try:
                child = subprocess.Popen(  # noqa: S603 - argument list, no shell
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log_fd,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    close_fds=True,
                    env=os.environ.copy(),
                )
            finally:
                os.close(log_fd)
            try:
                created = psutil.Process(child.pid).create_time()
            except psutil.NoSuchProcess:
                created = None
            files.write_json(
                self.pid_dir,
                pid_file(name),
                {
                    "pid": child.pid,
                    "name": name,
                    "package": PACKAGE,
                    "create_time": created,
                    "cmdline": argv,
                    "started": utcnow_iso(),
                },
            )
            return child.pid

    def _lock(self, name: str):
        """An exclusive lock on ``<name>.lock`` so two starts cannot race."""
        manager = self

        class _Lock:
            def __enter__(self):
                fd = os.open(
                    manager.pid_dir / f"{name}.lock",
                    os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW,
                    0o600,
                )
                fcntl.flock(fd, fcntl.LOCK_EX)
                self.fd = fd
                return self

            def __exit__(self, *exc):
                fcntl.flock(self.fd, fcntl.LOCK_UN)
                os.close(self.fd)

        return _Lock()

    # ------------------------------------------------------------------ inspect
    def info(self, name: str) -> ProcessInfo | None:
        """State of a named process, from its files and the live process table."""
        files.check_name(name)
        record = files.read_json(self.pid_dir, pid_file(name))
        status = files.read_json(self.pid_dir, status_file(name)) or {}
        if record is None:
            if not status:
                return None
            state = status.get("state", "unknown")
            if state in RUNNING_STATES:
                state = "stale"
            return ProcessInfo(name, None, False, True, state, status)
        pid = record.get("pid")
        alive = _matches(record)
        state = status.get("state", "unknown")
        if not alive and state not in FINAL_STATES:
            state = "stale"
        return ProcessInfo(name, pid, alive, record.get("package") == PACKAGE, state, status)

    def list(self, package_only: bool = False) -> list[ProcessInfo]:
        """Every process with a PID file in the directory (``package_only``: ours)."""
        found = []
        for entry in sorted(os.listdir(self.pid_dir)):
            if not entry.endswith(".pid") or entry.startswith("."):
                continue
            name = entry[: -len(".pid")]
            try:
                files.check_name(name)
                record = files.read_json(self.pid_dir, entry)
            except (ValueError, files.UnsafeFileError):
                continue
            if record is not None and record.get("package") == PACKAGE:
                found.append(self.info(name))
            elif not package_only:
                found.append(_foreign(self.pid_dir, name))
        return [info for info in found if info is not None]

    def tail_log(self, name: str, lines: int) -> list[str]:
        """The last lines of a process's log."""
        files.check_name(name)
        return files.tail(self.pid_dir, log_file(name), lines)

    # ------------------------------------------------------------------ cancel
    def cancel(self, name: str, timeout: float = 30) -> str:
        """Stop a process: SIGTERM, wait ``timeout`` s, then SIGKILL.

        Returns ``"stopped"`` (it ended by itself after SIGTERM) or ``"killed"``.
        Raises :class:`ProcessNotRunning` when no live process has that name (a stale
        PID file is then marked so).
        """
        info = self.info(name)
        if info is None or not info.alive:
            if info is not None and info.state == "stale":
                self._mark(name, "failed", "process vanished without a final status")
            raise ProcessNotRunning(f"process {name} is not running")
        process = psutil.Process(info.pid)
        _signal_group(process, signal.SIGTERM)
        _, alive = psutil.wait_procs([process], timeout=timeout)
        if not alive:
            status = files.read_json(self.pid_dir, status_file(name)) or {}
            if status.get("state") not in FINAL_STATES:
                self._mark(name, "cancelled", "stopped by SIGTERM")
            return "stopped"
        _signal_group(process, signal.SIGKILL)
        psutil.wait_procs([process], timeout=10)
        self._mark(name, "killed", f"did not stop within {timeout:g}s; killed")
        return "killed"

    def _mark(self, name: str, state: str, message: str) -> None:
        status = files.read_json(self.pid_dir, status_file(name)) or {"name": name}
        status.update(state=state, error=message, last_update=utcnow_iso())
        status.setdefault("finished", utcnow_iso())
        files.write_json(self.pid_dir, status_file(name), status)


def _matches(record: dict) -> bool:
    """The PID file's process is alive and is the one started (not a reused PID)."""
    pid = record.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        created = record.get("create_time")
        if created is not None and abs(process.create_time() - float(created)) > 1.0:
            return False
        cmdline = record.get("cmdline")
        if cmdline and process.cmdline()[: len(cmdline)] != cmdline:
            return False
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    return True


def _foreign(pid_dir: Path, name: str) -> ProcessInfo | None:
    """A PID file of another program (plain PID number)."""
    try:
        text = files.read_text(pid_dir, pid_file(name)) or ""
        pid = int(text.split()[0]) if text.split() else None
    except (ValueError, files.UnsafeFileError):
        return None
    if pid is None:
        return None
    alive = psutil.pid_exists(pid)
    return ProcessInfo(name, pid, alive, False, "running" if alive else "stale")


def _signal_group(process: psutil.Process, sig: int) -> None:
    """Signal the worker's process group (it leads its own session), else the process."""
    try:
        if os.getpgid(process.pid) == process.pid:
            os.killpg(process.pid, sig)
        else:
            process.send_signal(sig)
    except (ProcessLookupError, psutil.NoSuchProcess):
        pass
