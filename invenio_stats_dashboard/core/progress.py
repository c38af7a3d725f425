"""Progress as throttled one-line records: for logs, cron mails and Celery workers.

``label: done/total (share), rate/s, about N left`` at most every
``COMMUNITY_STATS_PROGRESS_INTERVAL`` seconds, and a last line when the work ends. The
CLI prints them on stderr off a terminal; the scheduled task writes them to its log.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import current_app, has_app_context

from .units import count, duration

DEFAULT_INTERVAL = 10.0


def progress_interval() -> float:
    """Seconds between two progress lines (``COMMUNITY_STATS_PROGRESS_INTERVAL``, else 10)."""
    if has_app_context():
        value = current_app.config.get("COMMUNITY_STATS_PROGRESS_INTERVAL")
        if value is not None:
            return float(value)
    return DEFAULT_INTERVAL


class ProgressLines:
    """Progress lines written to ``sink``, at most one per ``interval`` seconds."""

    def __init__(
        self,
        label: str,
        sink: Callable[[str], None],
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.label, self.sink, self.clock = label, sink, clock
        self.interval = progress_interval() if interval is None else interval
        self.started = clock()
        self.last_line: float | None = None
        self.done = self.total = 0

    def update(self, done: int, total: int) -> None:
        """Record the progress; write a line when the interval has passed."""
        self.done, self.total = done, max(total, done)
        now = self.clock()
        if self.last_line is None or now - self.last_line >= self.interval:
            self.last_line = now
            self.sink(self.line(now))

    def line(self, now: float) -> str:
        """The progress as one line."""
        elapsed = max(now - self.started, 1e-9)
        rate = self.done / elapsed
        first = f"{self.label}: {count(self.done)}/{count(self.total)}"
        if self.total:
            first += f" ({100 * self.done / self.total:.0f}%)"
        parts = [first, f"{rate:,.1f}/s"]
        if 0 < self.done < self.total and rate > 0:
            parts.append(f"about {duration((self.total - self.done) / rate)} left")
        return ", ".join(parts)

    def finish(self) -> None:
        """The last line (only when a line was written): what was done, in how long."""
        if self.last_line is None:
            return
        elapsed = self.clock() - self.started
        self.sink(
            f"{self.label}: done, {count(self.done)}/{count(self.total)} in {duration(elapsed)}"
        )
