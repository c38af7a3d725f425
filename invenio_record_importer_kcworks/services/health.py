"""Search cluster health checks between batches."""

import re
import time

from flask import current_app
from invenio_search.proxies import current_search_client
from opensearchpy.exceptions import ConnectionError as SearchConnectionError
from opensearchpy.exceptions import ConnectionTimeout

_TIME_VALUE = re.compile(r"(\d+(?:\.\d+)?)(d|h|m|s|ms|micros|nanos)")
_SECONDS = {
    "d": 86400.0,
    "h": 3600.0,
    "m": 60.0,
    "s": 1.0,
    "ms": 1e-3,
    "micros": 1e-6,
    "nanos": 1e-9,
}
REQUEST_TIMEOUT_MARGIN = 5.0
"""Seconds the HTTP request may take beyond the cluster-side timeout."""


def time_value(value) -> str:
    """A time value for the cluster: numbers are seconds (``5`` -> ``"5s"``)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:g}s"
    return str(value).strip()


def time_value_seconds(value: str) -> float:
    """Seconds in an OpenSearch time value such as ``"5s"`` or ``"500ms"``."""
    match = _TIME_VALUE.fullmatch(str(value).strip())
    if not match:
        raise ValueError(f"{value!r} is not a search engine time value (e.g. '5s')")
    return float(match.group(1)) * _SECONDS[match.group(2)]


def check_opensearch_health(client=None) -> dict:
    """Ask the cluster for its health.

    ``RECORD_IMPORTER_HEALTH_CHECK_TIMEOUT`` is sent as the cluster's own ``timeout``
    (a time value). opensearch-py would otherwise take a ``timeout`` keyword as the
    HTTP timeout, so the HTTP timeout is passed separately as ``request_timeout``.

    Returns ``{"is_healthy": bool, "reason": str, "status": str}``; ``status`` is
    the cluster colour, ``"unreachable"`` or ``"error"``.
    """
    client = client or current_search_client
    timeout = time_value(current_app.config["RECORD_IMPORTER_HEALTH_CHECK_TIMEOUT"])
    try:
        health = client.cluster.health(
            timeout=timeout,
            request_timeout=time_value_seconds(timeout) + REQUEST_TIMEOUT_MARGIN,
        )
    except (ConnectionTimeout, SearchConnectionError) as exc:
        return {
            "is_healthy": False,
            "reason": f"OpenSearch not responsive: {exc}",
            "status": "unreachable",
        }
    except Exception as exc:  # any other failure means we cannot trust the cluster
        current_app.logger.error(f"Error checking OpenSearch health: {exc}")
        return {"is_healthy": False, "reason": f"Health check error: {exc}", "status": "error"}
    status = health.get("status", "unknown")
    if status == "red":
        return {"is_healthy": False, "reason": "Cluster status is RED", "status": status}
    if status == "yellow":
        return {
            "is_healthy": True,
            "reason": "Cluster status is YELLOW (acceptable)",
            "status": status,
        }
    if status == "green":
        return {"is_healthy": True, "reason": "Cluster status is GREEN", "status": status}
    return {"is_healthy": False, "reason": f"Unknown cluster status {status!r}", "status": status}


def healthy_after_pause(check, processed: int, total: int, noun: str) -> bool:
    """Check health; if bad, pause and check once more. False means: stop now.

    ``check`` is a callable returning the dict of :func:`check_opensearch_health`.
    The pause is ``RECORD_IMPORTER_HEALTH_CHECK_PAUSE`` seconds.
    """
    logger = current_app.logger
    health = check()
    if health["is_healthy"]:
        logger.debug(f"OpenSearch health: {health['status']}")
        return True
    pause = current_app.config["RECORD_IMPORTER_HEALTH_CHECK_PAUSE"]
    logger.warning(
        f"OpenSearch health check failed: {health['reason']}. Pausing for {pause} seconds..."
    )
    time.sleep(pause)
    health = check()
    if health["is_healthy"]:
        logger.info(f"OpenSearch recovered: {health['status']}")
        return True
    logger.error(
        f"OpenSearch still unhealthy after pause: {health['reason']}. "
        f"Stopping updates. Processed {processed} of {total} {noun}."
    )
    return False
