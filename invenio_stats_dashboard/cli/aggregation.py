"""Core commands: aggregate, aggregate-background, status, read, destroy-indices."""

CORE_COMMANDS: list = []
"""Click commands added directly under ``invenio community-stats``."""
