"""Worker side of a background process: ``python -m invenio_stats_dashboard.processes.runner``.

Creates the Invenio API application (instance configuration from the inherited
environment), imports the target function and calls it inside an application context as
``target(**params, progress=..., should_stop=...)``. The status file is rewritten at
most every ``STATS_DASHBOARD_PROCESS_STATUS_INTERVAL`` seconds while it runs and once at
the end (completed / cancelled / failed, with the target's result or the error).
SIGTERM sets a flag that ``should_stop()`` reports: the target stops at its next safe
point (for the backfill: after a fully written batch).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
import traceback
from pathlib import Path

from . import files
from .manager import status_file, utcnow_iso


class StatusReporter:
    """Keeps ``<name>.status.json`` current; receives SIGTERM as a stop request."""

    def __init__(self, pid_dir: Path, name: str, interval: float = 1.0):
        """Report for process ``name`` in ``pid_dir``."""
        self.pid_dir = pid_dir
        self.name = name
        self.interval = interval
        self.stop_requested = False
        self._last_write = 0.0
        self.status = files.read_json(pid_dir, status_file(name)) or {"name": name}

    def install_signal_handler(self) -> None:
        """SIGTERM: ask the work to stop at its next safe point."""

        def _handler(signum, frame):
            self.stop_requested = True
            self.update(state="stopping", step="stop requested (SIGTERM)", force=True)

        signal.signal(signal.SIGTERM, _handler)

    def should_stop(self) -> bool:
        """True once SIGTERM was received."""
        return self.stop_requested

    def update(self, force: bool = False, **fields) -> None:
        """Merge fields into the status; write it if forced or the interval passed."""
        self.status.update(fields)
        now = time.monotonic()
        if force or now - self._last_write >= self.interval:
            self.status["last_update"] = utcnow_iso()
            files.write_json(self.pid_dir, status_file(self.name), self.status)
            self._last_write = now

    def progress(self, done: int, total: int | None = None, step: str | None = None) -> None:
        """Progress callback handed to the target."""
        percent = round(100.0 * done / total, 1) if total else None
        fields = {"progress": {"done": done, "total": total, "percent": percent}}
        if step:
            fields["step"] = step
        changed = step is not None and step != self.status.get("step")
        self.update(force=changed or (total is not None and done >= total), **fields)
        print(f"{utcnow_iso()} progress {done}/{total}", flush=True)

    def finish(self, state: str, **fields) -> None:
        """Write the final status."""
        self.update(force=True, state=state, finished=utcnow_iso(), **fields)


def _import(target: str):
    module_name, _, attr = target.partition(":")
    module = __import__(module_name, fromlist=[attr])
    return getattr(module, attr)


def main(argv: list[str] | None = None) -> int:
    """Run one background job; the exit code is 0 unless it failed."""
    parser = argparse.ArgumentParser(prog="invenio-stats-dashboard-runner")
    parser.add_argument("--name", required=True)
    parser.add_argument("--pid-dir", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--params", default="{}")
    args = parser.parse_args(argv)
    name = files.check_name(args.name)
    reporter = StatusReporter(Path(args.pid_dir), name)
    reporter.install_signal_handler()
    reporter.update(force=True, state="running", step="starting the application")
    print(f"{utcnow_iso()} {name}: starting {args.target}", flush=True)
    try:
        from invenio_app.factory import create_api

        app = create_api()
        reporter.interval = float(app.config.get("STATS_DASHBOARD_PROCESS_STATUS_INTERVAL", 1.0))
        target = _import(args.target)
        params = json.loads(args.params)
        with app.app_context():
            reporter.update(force=True, step="working")
            result = target(**params, progress=reporter.progress, should_stop=reporter.should_stop)
    except Exception as exc:  # the status and the log must say why
        traceback.print_exc()
        reporter.finish("failed", error=f"{type(exc).__name__}: {exc}", exit_code=1)
        return 1
    state = "cancelled" if reporter.stop_requested else "completed"
    reporter.finish(state, result=result, exit_code=0, step=state)
    print(f"{utcnow_iso()} {name}: {state}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
