"""Configuration of the record importer's created-date repair.

Every setting lives here, with its default; the extension copies them into
``app.config`` with ``setdefault`` so an instance's ``invenio.cfg`` wins.
"""

RECORD_IMPORTER_HEALTH_CHECK_TIMEOUT = "5s"
"""Timeout passed to the cluster health request between batches: a time value such as
``"5s"``, or a number of seconds."""

RECORD_IMPORTER_HEALTH_CHECK_PAUSE = 30
"""Seconds to wait before checking again when the search cluster is red or unreachable."""

RECORD_IMPORTER_BATCH_DELAY = 1.0
"""Seconds to sleep between two batches, so a busy cluster is not overwhelmed."""

RECORD_IMPORTER_HEALTH_CHECK_HOSTS = None
"""Hosts to ask for cluster health between batches (same format as ``SEARCH_HOSTS``).

``None`` asks the cluster through Invenio's own search client. Set it to reach the
health endpoint through another node, e.g. a coordinating or monitoring node.
"""
