"""Writes: a batch of ``created`` changes in one unit of work, reindexed in one bulk request.

A service indexer writes one document per request (``RecordIndexer.index``) or goes
through a message queue consumed later by a worker (``bulk_index``). The repair wants
neither: it wants every document of a batch written in one bulk request, now, so the
search results change as soon as the command returns. :func:`bulk_reindex` builds
exactly the actions ``RecordIndexer`` builds for its own bulk queue (same index name,
same external version, same dump through the indexer's dumper and the
``before_record_index`` signal) and sends them with ``helpers.bulk``.
"""

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from invenio_db import db
from invenio_records_resources.services.uow import Operation, UnitOfWork
from invenio_search.engine import search

from .legacy_dates import as_utc


def bulk_reindex(indexer, records) -> dict[str, str]:
    """Index ``records`` with ``indexer``'s own dump in one bulk request.

    Returns ``{record_id: error}`` for the documents the engine refused (empty when
    all were written). Versions are the records' revision ids with the indexer's
    version type (``external_gte``), as for every Invenio index write.
    """
    actions, errors = [], {}
    for record in records:
        try:
            index = indexer.record_to_index(record)
            body = indexer._prepare_record(record, index, {})
        except Exception as exc:  # a record that cannot be dumped fails alone
            errors[str(record.id)] = f"Could not prepare the search document: {exc}"
            continue
        actions.append(
            {
                "_op_type": "index",
                "_index": indexer._prepare_index(index),
                "_id": str(record.id),
                "_version": record.revision_id,
                "_version_type": indexer._version_type,
                "_source": body,
            }
        )
    if not actions:
        return errors
    _, failures = search.helpers.bulk(
        indexer.client,
        actions,
        raise_on_error=False,
        raise_on_exception=False,
        chunk_size=len(actions),
        request_timeout=current_app.config.get("INDEXER_BULK_REQUEST_TIMEOUT", 10),
    )
    for failure in failures:
        item = next(iter(failure.values()))
        errors[str(item.get("_id"))] = str(item.get("error") or item.get("status"))
    return errors


@dataclass
class CreatedDateChange:
    """One record's or community's ``created``: what it is and what it becomes.

    ``write_db`` is False when the database already holds ``new_created`` and only
    the search document is stale (e.g. a previous run's bulk request failed).
    """

    record: object
    old_created: datetime
    new_created: datetime
    write_db: bool


class CreatedDatesCommitOp(Operation):
    """Set ``created`` on a batch, then reindex the batch in one bulk request.

    Registered in a :class:`~invenio_db.uow.UnitOfWork`: the models are changed
    when registered, the unit of work commits the transaction once, then the batch is
    reindexed (``on_commit``; with ``refresh`` the index is refreshed too) and
    ``after_commit(changes)`` runs (``on_post_commit``).
    Documents the engine refused are in :attr:`index_errors` afterwards.
    """

    def __init__(self, changes: list[CreatedDateChange], indexer, after_commit=None, refresh=False):
        """Remember the batch, the service indexer, the post-commit hook, the refresh."""
        self._changes = changes
        self._indexer = indexer
        self._after_commit = after_commit
        self._refresh = refresh
        self.index_errors: dict[str, str] = {}

    def on_register(self, uow):
        """Change the rows (flushed by the unit of work's commit)."""
        for change in self._changes:
            if change.write_db:
                change.record.model.created = change.new_created
        uow.session.flush()

    def on_commit(self, uow):
        """Reload the committed rows in one query and bulk-index them."""
        record_cls = type(self._changes[0].record)
        ids = [change.record.id for change in self._changes]
        with db.session.no_autoflush:
            records = record_cls.get_records(ids)
        self.index_errors = bulk_reindex(self._indexer, records)
        if self._refresh:
            self._indexer.refresh()
        missing = {str(i) for i in ids} - {str(r.id) for r in records}
        for record_id in missing:
            self.index_errors[record_id] = "Record vanished from the database before indexing"

    def on_post_commit(self, uow):
        """Tell the listeners which database rows changed."""
        written = [change for change in self._changes if change.write_db]
        if self._after_commit is not None and written:
            self._after_commit(written)


def commit_changes(changes: list[CreatedDateChange], indexer, after_commit=None) -> dict[str, str]:
    """Write a batch in one unit of work; returns ``{id: error}`` for the items that failed.

    If the batch as a whole fails (the transaction is rolled back), each item is
    retried alone from a fresh read, so one bad row cannot sink its batch.
    """
    try:
        with UnitOfWork() as uow:
            op = CreatedDatesCommitOp(changes, indexer, after_commit)
            uow.register(op)
            uow.commit()
        return op.index_errors
    except Exception as exc:
        if len(changes) == 1:
            return {str(changes[0].record.id): str(exc)}
        current_app.logger.warning(f"Batch commit failed ({exc}); retrying item by item")
    errors = {}
    for change in changes:
        try:
            fresh = type(change.record).get_record(change.record.id)
        except Exception as exc:
            errors[str(change.record.id)] = str(exc)
            continue
        current = as_utc(fresh.model.created)
        retry = CreatedDateChange(
            fresh, current, change.new_created, write_db=current != change.new_created
        )
        errors.update(commit_changes([retry], indexer, after_commit))
    return errors
