"""Helpers that read and repair records and communities."""

from .communities import CommunitiesHelper
from .records import RecordsHelper

__all__ = ("CommunitiesHelper", "RecordsHelper")
