"""Celery tasks of invenio-stats-dashboard (thin wrappers over the services)."""
