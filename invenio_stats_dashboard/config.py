"""Configuration of invenio-stats-dashboard.

Every setting lives here, with its default; the extension copies them into
``app.config`` with ``setdefault`` so an instance's ``invenio.cfg`` wins.
"""

COMMUNITY_STATS_ENABLED = True
"""Master switch: when False, the CLI commands refuse to run and nothing is aggregated."""

COMMUNITY_STATS_SCHEDULED_TASKS_ENABLED = True
"""When True, the extension adds ``COMMUNITY_STATS_CELERYBEAT_SCHEDULE`` to the site's
``CELERY_BEAT_SCHEDULE``. When False, nothing is scheduled, the task does nothing and
``aggregate`` needs ``--force``."""

COMMUNITY_STATS_EARLIEST_DATE = "2000-01-01"
"""No aggregation series starts before this day; earlier basis days are counted on it."""

STATS_DASHBOARD_PID_DIR = "/tmp"
"""Default directory for PID, status and log files of background processes."""

# --------------------------------------------------------------------------- aggregations
# (records and usage aggregations, bookmarks, scheduled runs; see docs/aggregations.md)

COMMUNITY_STATS_CATCHUP_INTERVAL = 365
"""Most new days one aggregation run writes per (aggregation, community) when no end date
is given; the next run continues from the bookmark. Days rewritten after a change to the
past do not count. 0 means no limit."""

COMMUNITY_STATS_RECORDS_EDIT_MARGIN = 300
"""Seconds: a record edited this long before a community's snapshot was computed still
makes the next run read that community again (clock skew between hosts, indexing lag).
Communities without news since their bookmarks are not read; their new days are copies."""

COMMUNITY_STATS_WORKSPACE_DIR = "instance"
"""Where the records aggregations keep each community's records between runs (one SQLite
file per community; about 2 KB per record of each): ``"instance"`` for
``<instance path>/community-stats-workspaces``, a directory path, or ``""`` to read every
community whole on every run (a temporary file). A run reads only the records written or
edited since the last one. The list of the history's communities is kept there too
(``communities.json``), so a run lists only those of the events written since. Local to
each worker: a worker without the files reads whole."""

COMMUNITY_STATS_SUBCOUNTS = {
    "resource_types": "all",
    "access_statuses": "all",
    "file_types": "all",
    "languages": "top",
    "subjects": "top",
    "rights": "top",
    "funders": "top",
    "periodicals": "top",
    "publishers": "top",
    "affiliations": "top",
}
"""Record subcounts written into the records aggregations: key -> "all" (every value)
or "top" (the ``COMMUNITY_STATS_TOP_SUBCOUNT_LIMIT`` values with the most records).
Remove a key to stop computing it. Sources: see docs/aggregations.md."""

COMMUNITY_STATS_TOP_SUBCOUNT_LIMIT = 20
"""How many values a "top" subcount keeps per document."""

COMMUNITY_STATS_AGGREGATION_PAGE_SIZE = 2000
"""Documents per read request (membership history, records) during aggregation."""

COMMUNITY_STATS_AGGREGATION_BULK_SIZE = 500
"""Documents per bulk write request during aggregation."""

COMMUNITY_STATS_RECONCILE_BEFORE_AGGREGATION = True
"""Run the membership reconciliation (``membership.service.reconcile_membership``) at the start of
every aggregation run, so changes live tracking missed are counted."""

COMMUNITY_STATS_AGGREGATION_TASKS = 1
"""Celery tasks a queued or scheduled aggregation run is split into, so several workers
share it: one for the usage aggregations and COUNTER, the others for the records
aggregations' communities. 1: one task runs everything. ``aggregate --eager`` always
runs in its own process."""

COMMUNITY_STATS_AGGREGATION_LOCK_TIMEOUT = 900
"""Seconds the aggregation lock lives without a heartbeat (a killed run frees it then).
A running aggregation renews it after every community and every 30 s within long work."""

COMMUNITY_STATS_SEARCH_TIMEOUT = 120
"""Seconds one search, scroll or bulk request of the package may take before it fails
(the command then stops with a one-line error; the next run resumes)."""

COMMUNITY_STATS_DATABASE_TIMEOUT = 120
"""Seconds one SQL statement of a command of either extension may take (PostgreSQL's
statement_timeout, set while the command runs): a row or table another process keeps
locked then ends the wait with a one-line error. 0: no limit."""

COMMUNITY_STATS_SEARCH_RETRIES = 5
"""Retries of a search or bulk request after a lost connection or a 429/502/503/504
answer, waiting 1, 2, 4, 8, 16 s (a timeout is not retried). 0: fail at once."""

COMMUNITY_STATS_SEARCH_RETRY_MAX_WAIT = 16
"""Longest wait (seconds) between two of those retries."""

COMMUNITY_STATS_RUN_DEADLINE = 6 * 60 * 60
"""Seconds an aggregation, usage-event migration or membership backfill may run before it
stops between two units of work (one-line error, exit 1, lock released; what it finished
is kept and the next run goes on from there). 0: no deadline."""

COMMUNITY_STATS_PROGRESS_INTERVAL = 10
"""Seconds between two progress lines of a long command off a terminal (stderr) and of the
scheduled aggregation (app log, INFO); a terminal gets a progress bar instead."""

COMMUNITY_STATS_CELERYBEAT_SCHEDULE = {
    "community-stats-aggregation": {
        "task": "invenio_stats_dashboard.aggregations.tasks.aggregate_community_stats",
        "schedule": 60 * 60,
    },
}
"""Beat entry running every aggregation hourly. The extension merges it into
``CELERY_BEAT_SCHEDULE`` while ``COMMUNITY_STATS_ENABLED`` and
``COMMUNITY_STATS_SCHEDULED_TASKS_ENABLED`` are True; a site's own ``CELERY_BEAT_SCHEDULE``
entry of the same name wins (to change the interval, set either). The task does nothing
while either switch is False, and skips a beat when the previous run still holds the
lock."""

# --------------------------------------------------------------------------- usage events
# (enriched view/download events, their migration, synthetic events; see docs/usage-events.md)

STATS_DASHBOARD_ENRICH_EVENTS = True
"""Register the enrichment event builder and the enriched events indexer in the site's
``STATS_EVENTS`` (``record-view`` and ``file-download``), so new events are enriched."""

STATS_DASHBOARD_SYNTHETIC_EVENTS_SEED = None
"""Seed of ``usage-events generate``: an integer makes two runs over the same records write
the same events (the demo sets it from ``DEMO_SEED``); None draws new ones every run."""

STATS_DASHBOARD_REINDEXING_MAX_BATCHES = None
"""Default of ``usage-events migrate --max-batches``: batches per month and run (None: all)."""

STATS_DASHBOARD_REINDEXING_BATCH_SIZE = 1000
"""Default of ``usage-events migrate --batch-size`` (events per batch, at most 10,000)."""

STATS_DASHBOARD_REINDEXING_MAX_MEMORY_PERCENT = 85
"""Default of ``usage-events migrate --max-memory-percent``: the migration stops cleanly
(bookmark kept) when the machine's memory use passes this percentage."""

STATS_DASHBOARD_REINDEXING_VALIDATION_SAMPLE = 200
"""Events per month compared field by field between the raw and the enriched index."""

STATS_DASHBOARD_REINDEXING_KEEP_RECENT_DAYS = 2
"""Days after a month's end during which its raw index is never deleted (late events)."""

# --------------------------------------------------------------------------- membership history
COMMUNITY_STATS_TRACK_MEMBERSHIP = True
"""Write membership events live when records are published, included, removed, deleted or
restored. When False the hooks stay installed but write nothing (reconciliation still runs)."""

COMMUNITY_STATS_EVENTS_BATCH_SIZE = 500
"""Records per batch in ``community-events generate`` / ``status`` and the reconciliation."""

COMMUNITY_STATS_EVENTS_BATCH_DELAY = 0
"""Seconds to pause between batches of the backfill (throttle for a busy cluster)."""

COMMUNITY_STATS_EVENTS_BULK_CHUNK_SIZE = 2000
"""Actions per bulk request when writing membership events."""

# --------------------------------------------------------------------------- background processes
STATS_DASHBOARD_PROCESS_STATUS_INTERVAL = 1.0
"""Minimum seconds between two status-file updates of a running background process."""

COMMUNITY_STATS_USAGE_SUBCOUNTS = {
    "resource_types": "all",
    "access_statuses": "all",
    "file_types": "all",
    "languages": "top",
    "subjects": "top",
    "rights": "top",
    "funders": "top",
    "periodicals": "top",
    "publishers": "top",
    "affiliations": "top",
    "countries": "top",
    "referrers": "top",
}
"""Usage subcounts (views and downloads split by an enriched event field): key -> "all"
or "top" (the ``COMMUNITY_STATS_TOP_SUBCOUNT_LIMIT`` values with the most events)."""

COMMUNITY_STATS_USAGE_PAGE_SIZE = 5000
"""Enriched events read per request by the usage aggregations (at most 10,000)."""

# --------------------------------------------------------------------------- REST API and cache
# (``/api/stats-dashboard``, the response cache and the ``cache`` commands; see docs/api.md)

COMMUNITY_STATS_PERMISSION_POLICY = None
"""Who may read statistics: a ``BasePermissionPolicy`` subclass (or its import path) with
``can_read_global`` and ``can_read_community`` (``community=`` the community record).
None: ``queries.permissions.CommunityStatsPermissionPolicy`` (global for everyone, a
community for whoever may read the community)."""

COMMUNITY_STATS_API_MAX_DAYS = 7320
"""Longest range (days) one API query may ask for (about twenty years)."""

COMMUNITY_STATS_API_MAX_AGE_RECENT = 300
"""``Cache-Control: max-age`` (seconds) of answers whose range reaches yesterday or today."""

COMMUNITY_STATS_API_MAX_AGE_SETTLED = 3600
"""``Cache-Control: max-age`` (seconds) of answers about settled days only."""

COMMUNITY_STATS_CACHE_ENABLED = True
"""Keep API answers in the Redis response cache."""

COMMUNITY_STATS_CACHE_REDIS_URL = None
"""Redis of the response cache; None: ``CACHE_REDIS_URL`` with its db number replaced by
``COMMUNITY_STATS_CACHE_REDIS_DB``."""

COMMUNITY_STATS_CACHE_REDIS_DB = 7
"""The response cache's own Redis database (when ``COMMUNITY_STATS_CACHE_REDIS_URL`` is None)."""

COMMUNITY_STATS_CACHE_TTL_RECENT = 3600
"""Seconds an answer whose range reaches yesterday or today stays cached (every
aggregation run that rewrites those days drops it anyway)."""

COMMUNITY_STATS_CACHE_TTL_SETTLED = 30 * 86400
"""Seconds an answer about settled days stays cached (a run that rewrites past days,
after a change to the past, drops the community's entries)."""

COMMUNITY_STATS_CACHE_WARM_AFTER_AGGREGATION = True
"""Queue the cache warm-up (the current year's dashboard queries of every community)
after each aggregation run that wrote documents."""

COMMUNITY_STATS_CACHE_WARM_BASES = ["added"]
"""Date bases the warm-up computes the record categories for."""

# --------------------------------------------------------------------------- COUNTER
COMMUNITY_STATS_COUNTER_ENABLED = True
"""Count COUNTER R5.1 item usage in every aggregation run (the monthly item index)."""

COMMUNITY_STATS_COUNTER_URL_PREFIX = "/counter"
"""Where the COUNTER_SUSHI API answers in the API app (``/api/counter/r51/...``)."""

COMMUNITY_STATS_COUNTER_PLATFORM = None
"""The platform's name in reports (None: ``THEME_SITENAME``)."""

COMMUNITY_STATS_COUNTER_PLATFORM_ID = None
"""Namespace of proprietary ids, 2-18 characters (None: from the platform's name)."""

COMMUNITY_STATS_COUNTER_REGISTRY_RECORD = ""
"""The platform's COUNTER registry URL (``https://registry.projectcounter.org/platform/<uuid>``)."""

COMMUNITY_STATS_COUNTER_OPEN = True
"""Answer any ``customer_id`` with everyone's usage ("The World"); False: named customers only."""

COMMUNITY_STATS_COUNTER_CUSTOMERS = {}
"""Named customers: ``{customer_id: {"name", "api_key", "requestor_ids", "communities"}}``."""

COMMUNITY_STATS_COUNTER_DATA_TYPES = {}
"""Resource type id (or its part before the first ``-``) -> COUNTER Data_Type, over the
package's mapping (``counter/items.py``)."""
