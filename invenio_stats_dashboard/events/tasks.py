"""Celery tasks for events (thin wrappers over the services)."""
