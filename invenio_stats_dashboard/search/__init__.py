"""Search index templates and index setup of invenio-stats-dashboard."""
