"""Read aggregated statistics (used by ``community-stats read`` and the REST API)."""

from .aggregations import UnknownQueryType, query_types, read_documents, read_stats

__all__ = ("UnknownQueryType", "query_types", "read_documents", "read_stats")
