"""Writes: a batch of ``created`` changes in one unit of work, reindexed in one bulk request.

What changes, and what does not:

- The database: one ``UPDATE ... SET created`` per row of the batch, sent together
  inside the unit of work and committed once. It is a data repair, not an edit: the
  record's JSON, its revision (``version_id``), its ``updated`` timestamp and its
  revision history (SQLAlchemy-Continuum) are left as they are. An ORM change of
  ``model.created`` would bump all three and write one history row per record, which
  costs about 10 ms per record and makes every repaired record look edited.
- The search index: each document of the batch is rewritten in one bulk request with
  the record's revision as external version (``external_gte``, exactly as Invenio's
  indexer does), its source being the indexed document with the new ``created``.
  Invenio would dump exactly that: ``created`` is the only dumped value that changed.
  Dumping again through the service indexer costs about 40 ms per record (vocabulary
  relations and usage statistics are resolved again); it is used only for a document
  that is missing or stale (its ``version_id`` differs from the database row).
"""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from invenio_db import db
from invenio_records_resources.services.uow import Operation, UnitOfWork
from invenio_search.engine import search

from invenio_stats_dashboard.core.indices import record_class_alias

from .legacy_dates import as_utc

PUBLISHED = "P"


@dataclass(frozen=True)
class RowState:
    """What the database holds for one record or community."""

    id: str
    created: datetime
    version_id: int
    parent_id: str | None
    published: bool


def load_rows(model_cls, ids) -> dict[str, RowState]:
    """The rows of ``ids`` in one query (without their JSON)."""
    if not ids:
        return {}
    table = model_cls.__table__
    parent = table.c.get("parent_id")
    columns = [
        table.c.id,
        table.c.created,
        table.c.version_id,
        table.c.deletion_status,
        table.c.json.is_(None).label("gone"),
    ]
    if parent is not None:
        columns.append(parent)
    rows = db.session.execute(sa.select(*columns).where(table.c.id.in_(list(ids))))
    found = {}
    for row in rows:
        status = getattr(row.deletion_status, "value", row.deletion_status)
        found[str(row.id)] = RowState(
            id=str(row.id),
            created=as_utc(row.created),
            version_id=row.version_id,
            parent_id=str(row.parent_id) if parent is not None and row.parent_id else None,
            published=status == PUBLISHED and not row.gone,
        )
    return found


@dataclass
class CreatedDateChange:
    """One record's or community's ``created``: what it is and what it becomes.

    ``write_db`` is False when the database already holds ``new_created`` and only
    the search document is stale (e.g. a previous run's bulk request failed).
    """

    row: RowState
    new_created: datetime
    write_db: bool

    @property
    def id(self) -> str:
        """The record's or community's UUID."""
        return self.row.id

    @property
    def old_created(self) -> datetime:
        """``created`` before the change."""
        return self.row.created


class Target:
    """Where a kind of item lives: its model, its API class and its service indexer."""

    def __init__(self, record_cls, indexer):
        """Remember the record API class (model, index) and the service's indexer."""
        self.record_cls = record_cls
        self.model_cls = record_cls.model_cls
        self.indexer = indexer

    @property
    def search_alias(self) -> str:
        """The prefixed alias searches go through."""
        return record_class_alias(self.record_cls)


def _indexed_documents(target: Target, ids: list[str]) -> dict[str, dict]:
    """The current search hits of ``ids`` (one search request)."""
    response = target.indexer.client.search(
        index=target.search_alias,
        body={"query": {"ids": {"values": ids}}, "size": len(ids)},
    )
    return {hit["_id"]: hit for hit in response["hits"]["hits"]}


def _dump_action(target: Target, record_id: str) -> dict:
    """The action the service indexer itself would send (full dump; slow path)."""
    indexer = target.indexer
    record = target.record_cls.get_record(record_id)
    index = indexer.record_to_index(record)
    return {
        "_op_type": "index",
        "_index": indexer._prepare_index(index),
        "_id": str(record.id),
        "_version": record.revision_id,
        "_version_type": indexer._version_type,
        "_source": indexer._prepare_record(record, index, {}),
    }


def reindex_created(target: Target, changes: list[CreatedDateChange]) -> dict[str, str]:
    """Write the new ``created`` of ``changes`` to the index in one bulk request.

    Returns ``{id: error}`` for the documents that could not be written.
    """
    if not changes:
        return {}
    indexer = target.indexer
    hits = _indexed_documents(target, [change.id for change in changes])
    actions, errors = [], {}
    for change in changes:
        hit = hits.get(change.id)
        try:
            if hit is None or hit["_source"].get("version_id") != change.row.version_id:
                actions.append(_dump_action(target, change.id))
                continue
        except Exception as exc:  # a record that cannot be dumped fails alone
            errors[change.id] = f"Could not prepare the search document: {exc}"
            continue
        source = dict(hit["_source"])
        source["created"] = change.new_created.isoformat()
        actions.append(
            {
                "_op_type": "index",
                "_index": hit["_index"],
                "_id": change.id,
                "_version": change.row.version_id - 1,
                "_version_type": indexer._version_type,
                "_source": source,
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


class CreatedDatesCommitOp(Operation):
    """Set ``created`` on a batch, then reindex the batch in one bulk request.

    Registered in a :class:`~invenio_db.uow.UnitOfWork`: the rows are updated when
    registered, the unit of work commits the transaction once, then
    ``after_commit(changes)`` runs and the batch is reindexed (``on_commit``; with
    ``refresh`` the index is refreshed too). Documents that could not be written are in
    :attr:`index_errors` afterwards.
    """

    def __init__(
        self, target: Target, changes: list[CreatedDateChange], after_commit=None, refresh=False
    ):
        """Remember the batch, where it lives, the post-commit hook and the refresh."""
        self._target = target
        self._changes = changes
        self._after_commit = after_commit
        self._refresh = refresh
        self.index_errors: dict[str, str] = {}

    def on_register(self, uow):
        """Update the rows (one statement, executed for every row of the batch)."""
        rows = [
            {"row_id": change.id, "new_created": change.new_created}
            for change in self._changes
            if change.write_db
        ]
        if not rows:
            return
        table = self._target.model_cls.__table__
        statement = (
            sa.update(table)
            .where(table.c.id == sa.bindparam("row_id"))
            .values(created=sa.bindparam("new_created", type_=table.c.created.type))
        )
        uow.session.execute(statement, rows)

    def on_commit(self, uow):
        """Tell the listeners, then bulk-index the committed batch.

        Listeners first: a run killed after telling them leaves a stale search document,
        which the next run finds and rewrites, telling them again (they are idempotent);
        told after the index write, a kill in between would leave them never told, with
        nothing left for a re-run to find. Index-only resyncs are told too, since the
        run that committed those rows may have died before telling anyone. Never raises:
        the rows are committed already, so a failing cluster only makes the batch's
        items index errors (a re-run resyncs the index).
        """
        if self._after_commit is not None and self._changes:
            self._after_commit(self._changes)
        try:
            self.index_errors = reindex_created(self._target, self._changes)
            if self._refresh:
                self._target.indexer.refresh()
        except Exception as exc:
            current_app.logger.error(f"Reindexing a committed batch failed: {exc}")
            self.index_errors = {
                change.id: f"Saved in the database, but not reindexed: {exc}"
                for change in self._changes
            }


def commit_changes(
    target: Target, changes: list[CreatedDateChange], after_commit=None
) -> dict[str, str]:
    """Write a batch in one unit of work; returns ``{id: error}`` for the items that failed.

    If the batch as a whole fails (the transaction is rolled back), each item is
    retried alone from a fresh read, so one bad row cannot sink its batch.
    """
    try:
        with UnitOfWork() as uow:
            op = CreatedDatesCommitOp(target, changes, after_commit)
            uow.register(op)
            uow.commit()
        return op.index_errors
    except Exception as exc:
        if len(changes) == 1:
            return {changes[0].id: str(exc)}
        current_app.logger.warning(f"Batch commit failed ({exc}); retrying item by item")
    errors = {}
    for change in changes:
        row = load_rows(target.model_cls, [change.id]).get(change.id)
        if row is None:
            errors[change.id] = "Not found in the database"
            continue
        retry = CreatedDateChange(row, change.new_created, row.created != change.new_created)
        errors.update(commit_changes(target, [retry], after_commit))
    return errors
