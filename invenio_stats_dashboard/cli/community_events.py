"""``invenio community-stats community-events ...``."""

import click


@click.group(name="community-events")
def community_events():
    """Community membership history: generate and check add/remove events."""
