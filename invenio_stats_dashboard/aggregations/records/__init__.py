"""The six records aggregations (importing this package registers them)."""

from .aggregators import KINDS, RECORDS_AGGREGATORS, records_aggregation_name

__all__ = ("KINDS", "RECORDS_AGGREGATORS", "records_aggregation_name")
