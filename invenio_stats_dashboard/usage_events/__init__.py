"""Enriched usage events: event builders, migration of raw indices, synthetic events."""
