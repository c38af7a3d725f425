"""Progress of long commands, on a terminal and off it (cron, nohup, CI).

On a terminal: a bar on stderr. Elsewhere: the throttled lines of
:class:`~invenio_stats_dashboard.core.progress.ProgressLines` on stderr, so a log shows
that a run is alive and how far it got.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click

from ..core.progress import ProgressLines


@contextmanager
def progress_callback(show: bool, label: str) -> Iterator[Callable[..., None] | None]:
    """A ``progress(done, total, ...)`` callback: a bar on a terminal, lines elsewhere.

    ``show`` False: no progress at all (None).
    """
    if not show:
        yield None
        return
    if not sys.stderr.isatty():
        lines = ProgressLines(label, lambda line: click.echo(line, err=True))
        yield lambda done, total, *_details, **_named: lines.update(done, total)
        lines.finish()
        return
    state: dict = {"bar": None, "done": 0}

    def progress(done: int, total: int, *_details, **_named) -> None:
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
