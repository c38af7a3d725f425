"""The one bulk writer: chunking, per-item errors, retries and timeouts.

Every write of more than one document goes through :func:`bulk_write`. Rejected items
(HTTP 429) are retried with a growing pause by the client helper, whole chunks after a
lost connection or a 502-504 answer (``core.retries``); any other failed
item stops the write with :class:`BulkWriteError`, which names how many failed and the
first reason. Callers write idempotent actions (deterministic ids), so a re-run after
an error repairs whatever was left half-written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from invenio_search.engine import search as search_engine

from .engine import search_client
from .paging import chunks
from .retries import with_retries
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

    ``actions`` may be a generator (memory holds one chunk). A chunk whose request fails
    transiently (a lost connection, 502-504) is sent again whole after a pause
    (``core.retries``; the actions are idempotent). ``on_chunk(written)`` is called
    after each chunk (progress, lock keep-alive). Raises :class:`BulkWriteError` after
    the whole stream was tried if any item failed.
    """
    client = client or search_client
    timeout = request_timeout or search_timeout()
    written = failed = 0
    first_error: dict | None = None
    for chunk in chunks(actions, chunk_size):
        results = with_retries(lambda chunk=chunk: _send(client, chunk, timeout, max_chunk_bytes))
        for ok, item in results:
            if ok or _already_gone(item):
                written += 1
            else:
                failed += 1
                first_error = first_error or item
        if on_chunk is not None:
            on_chunk(written)
    if failed:
        raise BulkWriteError(failed, first_error or {})
    return written


def _send(client, chunk: list[dict], timeout: float, max_chunk_bytes: int) -> list:
    """One chunk through the client helper (which splits it by size, retries 429 items)."""
    return list(
        search_engine.helpers.streaming_bulk(
            client,
            chunk,
            chunk_size=len(chunk),
            max_chunk_bytes=max_chunk_bytes,
            max_retries=MAX_RETRIES,
            initial_backoff=1,
            raise_on_error=False,
            request_timeout=timeout,
        )
    )


def _already_gone(item: dict) -> bool:
    """A delete of a document that is not there: the wanted state already holds."""
    result = item.get("delete")
    return isinstance(result, dict) and result.get("status") == 404
