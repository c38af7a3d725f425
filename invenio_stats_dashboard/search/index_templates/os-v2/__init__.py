"""OpenSearch 2.x index templates."""
