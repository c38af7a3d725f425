"""``invenio community-stats usage-events ...``."""

import click


@click.group(name="usage-events")
def usage_events():
    """Enriched usage events: migrate raw view/download events, generate synthetic ones."""
