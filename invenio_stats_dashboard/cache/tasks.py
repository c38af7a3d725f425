"""Celery task of the response cache (a thin wrapper over the cache service)."""

from __future__ import annotations

from celery import shared_task


@shared_task(ignore_result=False)
def warm_stats_cache(community_ids: list[str] | None = None, year: int | None = None) -> dict:
    """Compute and store the dashboard's queries of the current year.

    Chained after ``aggregate``; default: every community and global.
    """
    from ..aggregations.service import all_community_ids
    from ..proxies import current_stats_dashboard
    from .service import cache_enabled, warm

    if not current_stats_dashboard.enabled or not cache_enabled():
        return {"skipped": "disabled"}
    return warm(community_ids or all_community_ids(), year)
