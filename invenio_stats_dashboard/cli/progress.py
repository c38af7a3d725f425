"""Progress of long commands, on a terminal and off it (cron, nohup, CI, Celery logs).

On a terminal: a bar on stderr. Elsewhere: one line on stderr at most every
``COMMUNITY_STATS_PROGRESS_INTERVAL`` seconds (count, share, rate, time left) and a last
line when the work ends, so a log shows that a run is alive and how far it got.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click
from flask import current_app, has_app_context

from .units import count, duration

DEFAULT_INTERVAL = 10.0


class ProgressLines:
    """``label: done/total (share), rate/s, about N left`` lines, throttled."""

    def __init__(self, label: str, interval: float, clock: Callable[[], float] = time.monotonic):
        self.label, self.interval, self.clock = label, interval, clock
        self.started = clock()
        self.last_line: float | None = None
        self.done = self.total = 0

    def update(self, done: int, total: int) -> None:
        """Record the progress; print a line when the interval has passed."""
        self.done, self.total = done, max(total, done)
        now = self.clock()
        if self.last_line is None or now - self.last_line >= self.interval:
            self.last_line = now
            click.echo(self.line(now), err=True)

    def line(self, now: float) -> str:
        """The progress as one line."""
        elapsed = max(now - self.started, 1e-9)
        rate = self.done / elapsed
        parts = [f"{self.label}: {count(self.done)}/{count(self.total)}"]
        if self.total:
            parts[0] += f" ({100 * self.done / self.total:.0f}%)"
        parts.append(f"{rate:,.1f}/s")
        if 0 < self.done < self.total and rate > 0:
            parts.append(f"about {duration((self.total - self.done) / rate)} left")
        return ", ".join(parts)

    def finish(self) -> None:
        """The last line: what was done, in how long."""
        elapsed = self.clock() - self.started
        click.echo(
            f"{self.label}: done, {count(self.done)}/{count(self.total)} in {duration(elapsed)}",
            err=True,
        )


def progress_interval() -> float:
    """Seconds between two progress lines off a terminal (setting, else 10)."""
    if has_app_context():
        value = current_app.config.get("COMMUNITY_STATS_PROGRESS_INTERVAL")
        if value is not None:
            return float(value)
    return DEFAULT_INTERVAL


@contextmanager
def progress_callback(show: bool, label: str) -> Iterator[Callable[..., None] | None]:
    """A ``progress(done, total, *details)`` callback: a bar on a terminal, lines elsewhere.

    ``show`` False: no progress at all (None).
    """
    if not show:
        yield None
        return
    if not sys.stderr.isatty():
        lines = ProgressLines(label, progress_interval())
        yield lambda done, total, *_details: lines.update(done, total)
        if lines.last_line is not None:
            lines.finish()
        return
    state: dict = {"bar": None, "done": 0}

    def progress(done: int, total: int, *_details) -> None:
        if state["bar"] is None:
            state["bar"] = click.progressbar(length=max(total, 1), label=label, file=sys.stderr)
            state["bar"].__enter__()
        state["bar"].length = max(total, done, 1)
        state["bar"].update(done - state["done"])
        state["done"] = done

    try:
        yield progress
    finally:
        if state["bar"] is not None:
            state["bar"].__exit__(None, None, None)
