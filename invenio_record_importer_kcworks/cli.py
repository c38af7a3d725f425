"""``invenio importer`` command group."""

import click


@click.group(name="importer")
def cli():
    """Knowledge Commons Works importer tools (created-date repair)."""
