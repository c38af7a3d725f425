"""Composable index templates (registered under ``invenio_search.index_templates``)."""
