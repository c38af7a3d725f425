"""Celery tasks for aggregations (thin wrappers over the services)."""
