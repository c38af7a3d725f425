"""``invenio community-stats processes ...``."""

from __future__ import annotations

import click
import psutil
from flask.cli import with_appcontext

from ..processes.files import UnsafeFileError, check_name
from ..processes.manager import ProcessError, ProcessInfo
from .options import echo_json, format_option, pid_dir_option, process_manager, render_table


def _validate_name(ctx, param, value):
    try:
        return check_name(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _progress_text(status: dict) -> str:
    progress = status.get("progress") or {}
    done, total = progress.get("done"), progress.get("total")
    if done is None:
        return "-"
    if total:
        return f"{done}/{total} ({progress.get('percent', 0):.1f}%)"
    return str(done)


@click.group(name="processes")
def processes():
    """Monitor and control background processes started with ``*-background`` commands."""


def _status_lines(info: ProcessInfo) -> list[tuple[str, str]]:
    status = info.status
    lines = [
        ("Process", info.name),
        ("State", info.state + (" (PID file names a process that is gone)" if info.stale else "")),
        ("PID", str(info.pid) if info.pid else "-"),
        ("Progress", _progress_text(status)),
        ("Step", status.get("step") or "-"),
        ("Started", status.get("started") or "-"),
        ("Last update", status.get("last_update") or "-"),
    ]
    if status.get("finished"):
        lines.append(("Finished", status["finished"]))
    if status.get("error"):
        lines.append(("Error", status["error"]))
    result = status.get("result")
    if isinstance(result, dict):
        for key, value in result.items():
            if not isinstance(value, dict | list):
                lines.append((f"Result {key}", str(value)))
    return lines


@processes.command("status")
@click.argument("process_name", callback=_validate_name)
@click.option("--show-log", is_flag=True, help="Show recent log output of the process.")
@click.option(
    "--log-lines",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Number of log lines to show.",
)
@pid_dir_option
@with_appcontext
def status_command(process_name, show_log, log_lines, pid_dir):
    """Show the status of a background process (exit code 1 if it is unknown)."""
    manager = process_manager(pid_dir)
    try:
        info = manager.info(process_name)
    except UnsafeFileError as exc:
        raise click.ClickException(str(exc)) from None
    if info is None:
        click.echo(f"No process named {process_name} in {manager.pid_dir}.", err=True)
        raise click.exceptions.Exit(1)
    lines = _status_lines(info)
    width = max(len(label) for label, _ in lines)
    for label, value in lines:
        click.echo(f"{label.ljust(width)}  {value}")
    if show_log:
        click.echo(f"\nLast {log_lines} log lines:")
        for line in manager.tail_log(process_name, log_lines):
            click.echo(f"  {line}")


@processes.command("cancel")
@click.argument("process_name", callback=_validate_name)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=30,
    show_default=True,
    help="Seconds to wait for a graceful stop before killing the process.",
)
@pid_dir_option
@with_appcontext
def cancel_command(process_name, timeout, pid_dir):
    """Stop a background process: SIGTERM, then SIGKILL after --timeout seconds."""
    manager = process_manager(pid_dir)
    try:
        outcome = manager.cancel(process_name, timeout=timeout)
    except (ProcessError, OSError, psutil.Error) as exc:
        click.echo(f"Error: {exc}", err=True)
        raise click.exceptions.Exit(1) from None
    if outcome == "stopped":
        click.echo(f"Process {process_name} stopped; a re-run continues where it ended.")
    else:
        click.echo(f"Process {process_name} did not stop within {timeout:g}s and was killed.")


@processes.command("list")
@pid_dir_option
@click.option(
    "--package-only", is_flag=True, help="Only processes managed by invenio-stats-dashboard."
)
@format_option("text", "json")
@with_appcontext
def list_command(pid_dir, package_only, output_format):
    """List background processes that have a PID file in the directory."""
    manager = process_manager(pid_dir)
    infos = manager.list(package_only=package_only)
    if output_format == "json":
        echo_json(
            [
                {
                    "name": info.name,
                    "pid": info.pid,
                    "state": info.state,
                    "package": info.package,
                    "status": info.status,
                }
                for info in infos
            ]
        )
        return
    if not infos:
        click.echo(f"No processes in {manager.pid_dir}.")
        return
    rows = [
        [
            info.name,
            str(info.pid or "-"),
            info.state,
            _progress_text(info.status),
            info.status.get("last_update") or "-",
            "yes" if info.package else "no",
        ]
        for info in infos
    ]
    click.echo(render_table(["NAME", "PID", "STATE", "PROGRESS", "LAST UPDATE", "PACKAGE"], rows))
