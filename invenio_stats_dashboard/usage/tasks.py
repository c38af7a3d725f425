"""Celery tasks for usage (thin wrappers over the services)."""
