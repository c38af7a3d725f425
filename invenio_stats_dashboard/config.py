"""Configuration of invenio-stats-dashboard.

Every setting lives here, with its default; the extension copies them into
``app.config`` with ``setdefault`` so an instance's ``invenio.cfg`` wins.
"""

COMMUNITY_STATS_ENABLED = True
"""Master switch: when False, the CLI commands refuse to run and nothing is aggregated."""

COMMUNITY_STATS_SCHEDULED_TASKS_ENABLED = True
"""When False, scheduled aggregation does not run and ``aggregate`` needs ``--force``."""

COMMUNITY_STATS_EARLIEST_DATE = "2000-01-01"
"""No aggregation series starts before this day; earlier basis days are counted on it."""

STATS_DASHBOARD_PID_DIR = "/tmp"
"""Default directory for PID, status and log files of background processes."""
