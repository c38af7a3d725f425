"""``invenio community-stats processes ...``."""

import click


@click.group(name="processes")
def processes():
    """Monitor and control background processes started with ``*-background`` commands."""
