"""``invenio community-stats setup``: idempotent index setup for existing sites."""

import click
from flask.cli import with_appcontext

from ..search.setup import setup_search


@click.command(name="setup")
@click.option(
    "--templates-only",
    is_flag=True,
    default=False,
    help="Only put the index templates; create no index.",
)
@with_appcontext
def setup(templates_only: bool):
    """Put this package's index templates and create its missing indices.

    Safe on a running site and safe to repeat: it touches only this package's templates
    and indices (never ``invenio index init``).
    """
    report = setup_search(create_indices=not templates_only)
    click.echo(f"Index templates put: {len(report.templates)}")
    for name in report.templates:
        click.echo(f"  {name}")
    if not templates_only:
        click.echo(f"Indices created: {len(report.created_indices)}")
        for name in report.created_indices:
            click.echo(f"  {name}")
        click.echo(f"Aliases already present: {len(report.existing_aliases)}")
