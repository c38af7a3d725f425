"""What the records and the communities helpers share."""

import logging

from flask import current_app
from invenio_search.engine import search
from invenio_search.proxies import current_search_client

from .batches import BatchLoop, ProgressCallback
from .health import check_opensearch_health


class CreatedDatesHelperBase:
    """Search clients, health check, per-item logging and the batch loop.

    ``search_client`` reads and writes the indices (default: Invenio's client);
    ``health_client`` answers the health checks between batches (default: a client for
    ``RECORD_IMPORTER_HEALTH_CHECK_HOSTS`` if set, else the search client).
    """

    noun = "items"
    stop_key = "stopped_at_item"

    def __init__(self, search_client=None, health_client=None):
        """Use Invenio's search client unless other clients are given."""
        self._search_client = search_client
        self._health_client = health_client

    @property
    def client(self):
        """The search client used for reads and writes."""
        return self._search_client or current_search_client

    @property
    def health_client(self):
        """The client for health checks (see the class docstring)."""
        if self._health_client is None:
            hosts = current_app.config.get("RECORD_IMPORTER_HEALTH_CHECK_HOSTS")
            if not hosts:
                return self.client
            options = dict(current_app.config.get("SEARCH_CLIENT_CONFIG") or {})
            options["hosts"] = hosts
            self._health_client = search.OpenSearch(**options)
        return self._health_client

    def check_opensearch_health(self) -> dict:
        """Cluster health: ``{"is_healthy": bool, "reason": str, "status": str}``."""
        return check_opensearch_health(self.health_client)

    @staticmethod
    def log_item(verbose: bool, message: str, level: int = logging.INFO) -> None:
        """Log one item's outcome: at ``level`` when verbose, else at DEBUG."""
        current_app.logger.log(level if verbose else logging.DEBUG, message)

    def batch_loop(
        self, total: int, batch_size: int, progress: ProgressCallback | None
    ) -> BatchLoop:
        """The shared batch loop, with this helper's names and health check."""
        if batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {batch_size}")
        return BatchLoop(
            noun=self.noun,
            stop_key=self.stop_key,
            batch_size=batch_size,
            total=total,
            health_check=self.check_opensearch_health,
            progress=progress,
        )
