"""Celery tasks for usage (thin wrappers over the services)."""

from celery import shared_task


@shared_task(ignore_result=False)
def migrate_usage_events(options: dict) -> list[dict]:
    """Run ``usage-events migrate`` with these options (``MigrationOptions`` fields).

    Does nothing while ``COMMUNITY_STATS_ENABLED`` is False.
    """
    from ..proxies import current_stats_dashboard

    if not current_stats_dashboard.enabled:
        return []
    from .migration import MigrationOptions, migrate

    opts = MigrationOptions(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}
    )
    return [result.__dict__ for result in migrate(opts)]
