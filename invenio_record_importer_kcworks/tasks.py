"""Celery tasks of the record importer (thin wrappers over the helpers)."""
