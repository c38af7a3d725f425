"""Helpers that read and repair records and communities."""
