"""``invenio community-stats`` command group."""

import click

from .aggregation import CORE_COMMANDS
from .cache import cache
from .community_events import community_events
from .options import StatsGroup
from .processes import processes
from .setup import setup
from .usage_events import usage_events


@click.group(name="community-stats", cls=StatsGroup)
def cli():
    """Community statistics: membership history, usage events, aggregations."""


for _command in (*CORE_COMMANDS, cache, setup, community_events, usage_events, processes):
    cli.add_command(_command)
