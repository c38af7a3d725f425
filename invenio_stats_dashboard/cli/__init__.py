"""``invenio community-stats`` command group."""

import click


@click.group(name="community-stats")
def cli():
    """Community statistics: membership history, usage events, aggregations."""
