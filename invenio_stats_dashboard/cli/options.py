"""What every ``invenio community-stats`` command shares: option types, guards, output.

- :data:`DAY`: the ``YYYY-MM-DD`` click type (``core.days``); one wording for bad dates;
- :func:`community_ids_option`: repeatable, comma- or space-separated UUIDs or slugs,
  resolved through ``core.ids`` (unknown ones are a usage error naming them all);
- :func:`pid_dir_option`, :func:`process_manager`, :func:`start_background`: background
  processes;
- :func:`render_table`: aligned tables; :func:`progress_callback` (``cli.progress``):
  a bar on a terminal, throttled progress lines elsewhere;
- :class:`StatsGroup`: the command group whose commands turn a search-engine, database or
  Redis failure into one line on stderr and exit code 1 (``core.errors``).
"""

from __future__ import annotations

import json
from datetime import date

import click
from flask import current_app

from ..core.days import DAY_FORMAT, InvalidDate, parse_day
from ..core.errors import EXIT_FAILURE, OneLineErrorsGroup
from ..core.ids import CommunityNotFound, resolve_community_ids
from ..proxies import DISABLED_MESSAGE, current_stats_dashboard
from .progress import progress_callback as progress_callback  # re-exported for the importer

StatsGroup = OneLineErrorsGroup


# --------------------------------------------------------------------------- types
class DayType(click.ParamType):
    """A UTC day as ``YYYY-MM-DD``."""

    name = DAY_FORMAT

    def convert(self, value, param, ctx) -> date:
        """Parse or fail as a usage error."""
        if isinstance(value, date):
            return value
        try:
            return parse_day(value, param.opts[-1] if param is not None else "date")
        except InvalidDate as error:
            self.fail(str(error), param, ctx)


DAY = DayType()


def check_range(start: date | None, end: date | None, param_hint: str = "'--start-date'") -> None:
    """A usage error when ``start`` is after ``end``."""
    if start and end and start > end:
        raise click.BadParameter(
            f"the start date {start} is after the end date {end}", param_hint=param_hint
        )


def split_values(values) -> tuple[str, ...]:
    """Repeatable values that may also be comma- or space-separated lists, deduplicated."""
    out: list[str] = []
    for value in values or ():
        out.extend(part for part in str(value).replace(",", " ").split() if part)
    return tuple(dict.fromkeys(out))


def _resolve_communities(ctx, param, values) -> list[str] | None:
    given = split_values(values)
    if not given:
        return None
    try:
        return resolve_community_ids(given)
    except CommunityNotFound as error:
        raise click.BadParameter(str(error), ctx=ctx, param=param) from None


def community_ids_option(*flags: str, help: str):
    """``--community-id/-c``: repeatable UUIDs or slugs (``global`` too), resolved (None: all)."""
    return click.option(
        *(flags or ("--community-id", "-c")),
        "community_ids",
        multiple=True,
        callback=_resolve_communities,
        metavar="ID_OR_SLUG",
        help=help,
    )


# --------------------------------------------------------------------------- guards
def require_enabled() -> None:
    """Refuse to run while ``COMMUNITY_STATS_ENABLED`` is False (exit 1, one line)."""
    if not current_stats_dashboard.enabled:
        raise click.ClickException(DISABLED_MESSAGE)


def fail(message: str, code: int = EXIT_FAILURE):
    """Stop the command: ``Error: <message>`` on stderr and exit ``code``."""
    click.echo(f"Error: {message}", err=True)
    raise click.exceptions.Exit(code)


# --------------------------------------------------------------------------- processes
def pid_dir_option(func):
    """``--pid-dir`` (default: ``STATS_DASHBOARD_PID_DIR``, ``/tmp``)."""
    return click.option(
        "--pid-dir",
        default=None,
        help="Directory of the PID, status and log files (default: STATS_DASHBOARD_PID_DIR, /tmp).",
    )(func)


def process_manager(pid_dir: str | None):
    """The process manager for ``pid_dir`` (or the configured default); usage error if unusable."""
    from ..processes.manager import ProcessManager

    directory = pid_dir or current_app.config.get("STATS_DASHBOARD_PID_DIR", "/tmp")
    try:
        return ProcessManager(directory)
    except OSError as exc:
        raise click.BadParameter(str(exc), param_hint="--pid-dir") from None


def start_background(pid_dir: str | None, name: str, target: str, params: dict) -> None:
    """Start a background process and print how to follow and cancel it."""
    from ..processes.manager import ProcessError

    manager = process_manager(pid_dir)
    try:
        pid = manager.start(name, target, params)
    except (ProcessError, OSError) as exc:
        fail(str(exc))
    click.echo(f"Started {name} (PID {pid}).")
    click.echo(f"Status: invenio community-stats processes status {name}")
    click.echo(f"Cancel: invenio community-stats processes cancel {name}")
    click.echo(f"Files:  {manager.pid_dir}/{name}.{{pid,status.json,log}}")


# --------------------------------------------------------------------------- output
def format_option(*formats: str):
    """``--format``: the first of ``formats`` (text) by default; JSON/CSV for scripts."""
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(list(formats)),
        default=formats[0],
        show_default=True,
        help="Readable text, or " + " / ".join(f.upper() for f in formats[1:]) + " for scripts.",
    )


def echo_json(payload) -> None:
    """``payload`` as indented JSON on stdout (dates as ISO strings)."""
    click.echo(json.dumps(payload, indent=2, default=str))


def render_table(headers: list[str], rows: list[list]) -> str:
    """Left-aligned columns separated by two spaces, with a rule under the headers."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(str(cell))) for w, cell in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        cells = (str(c).ljust(w) for c, w in zip(row, widths, strict=True))
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
