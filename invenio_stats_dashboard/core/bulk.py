"""The one bulk writer: chunking, per-item errors, retries and timeouts.

Every write of more than one document goes through :func:`bulk_write`. Rejected items
(HTTP 429) are retried with a growing pause by the client helper; any other failed
item stops the write with :class:`BulkWriteError`, which names how many failed and the
first reason. Callers write idempotent actions (deterministic ids), so a re-run after
an error repairs whatever was left half-written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from invenio_search import current_search_client
from invenio_search.engine import search as search_engine

from .timeouts import search_timeout

MAX_CHUNK_BYTES = 5 * 1024 * 1024
"""Largest bulk request body (documents with many subcount items are big)."""

MAX_RETRIES = 3
"""Retries of items the engine rejected as overloaded (429), with backoff."""


class BulkWriteError(RuntimeError):
    """Some items of a bulk write failed (the message counts them and shows the first)."""

    def __init__(self, failed: int, first: dict):
        self.failed = failed
        self.first = first
        super().__init__(f"{failed} document(s) could not be written; first error: {first}")


def bulk_write(
    actions: Iterable[dict],
    *,
    chunk_size: int = 500,
    client=None,
    request_timeout: float | None = None,
    max_chunk_bytes: int = MAX_CHUNK_BYTES,
    on_chunk: Callable[[int], None] | None = None,
) -> int:
    """Write bulk actions in chunks; returns how many succeeded.

    ``actions`` may be a generator (memory holds one chunk). ``on_chunk(written)`` is
    called after each chunk (progress, lock keep-alive). Raises :class:`BulkWriteError`
    after the whole stream was tried if any item failed.
    """
    client = client or current_search_client
    written = failed = 0
    first_error: dict | None = None
    since_report = 0
    for ok, item in search_engine.helpers.streaming_bulk(
        client,
        actions,
        chunk_size=chunk_size,
        max_chunk_bytes=max_chunk_bytes,
        max_retries=MAX_RETRIES,
        initial_backoff=1,
        raise_on_error=False,
        request_timeout=request_timeout or search_timeout(),
    ):
        if ok or _already_gone(item):
            written += 1
        else:
            failed += 1
            first_error = first_error or item
        since_report += 1
        if on_chunk is not None and since_report >= chunk_size:
            on_chunk(written)
            since_report = 0
    if on_chunk is not None and since_report:
        on_chunk(written)
    if failed:
        raise BulkWriteError(failed, first_error or {})
    return written


def _already_gone(item: dict) -> bool:
    """A delete of a document that is not there: the wanted state already holds."""
    result = item.get("delete")
    return isinstance(result, dict) and result.get("status") == 404
