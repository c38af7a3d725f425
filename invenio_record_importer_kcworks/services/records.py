"""Repair of records' ``created`` from ``custom_fields.hclegacy:record_creation_date``."""

import logging
import uuid
from datetime import datetime

from flask import current_app
from invenio_db.uow import UnitOfWork, unit_of_work
from invenio_rdm_records.proxies import current_rdm_records_service

from ..signals import record_created_dates_updated
from .base import CreatedDatesHelperBase
from .batches import ProgressCallback
from .legacy_dates import as_utc, day_bounds, iso, parse_legacy_date
from .scans import LegacyRecord, count_legacy_records, iter_legacy_records
from .writes import CreatedDateChange, CreatedDatesCommitOp, Target, commit_changes, load_rows


def _day(value: datetime) -> str:
    return as_utc(value).strftime("%Y-%m-%d")


class RecordsHelper(CreatedDatesHelperBase):
    """Find and repair records whose ``created`` differs from their legacy creation date.

    Candidates are the published, non-deleted records (every version) carrying the
    legacy field, read in one scroll. The database row decides what is written: a
    record is updated when its row or its search document differs from the legacy
    instant, skipped when both already equal it, and an error when the legacy value is
    not a date. Updates of a batch are one unit of work and one bulk index request.
    """

    noun = "records"
    stop_key = "stopped_at_record"

    @property
    def service(self):
        """The RDM records service (its record class and indexer are used)."""
        return current_rdm_records_service

    @property
    def target(self) -> Target:
        """Published records: their API class, model and the service indexer."""
        return Target(self.service.record_cls, self.service.indexer)

    def find_records_needing_created_date_update(
        self, start_date: str | None = None, end_date: str | None = None
    ) -> list[dict]:
        """Records whose indexed ``created`` differs from their valid legacy date.

        ``start_date``/``end_date`` (``YYYY-MM-DD``, inclusive whole days) filter on the
        current ``created``. Returns dicts ``{"id", "current_created", "new_created",
        "pid"}`` with ISO 8601 UTC timestamps. Unparseable legacy values are not listed
        (:meth:`update_record_created_dates` reports them as errors).
        """
        lower, upper = day_bounds(start_date, end_date)
        return [
            {
                "id": record.id,
                "current_created": iso(record.created),
                "new_created": iso(record.legacy_date),
                "pid": record.pid,
            }
            for record in iter_legacy_records(self.client, lower, upper)
            if record.legacy_date is not None and record.legacy_date != record.created
        ]

    def _resolve(self, record_id: str):
        """A published record by UUID or by PID value."""
        record_cls = self.service.record_cls
        try:
            uuid.UUID(str(record_id))
        except ValueError:
            return record_cls.pid.resolve(str(record_id))
        return record_cls.get_record(record_id)

    @unit_of_work()
    def update_single_record_created_date(
        self, record_id: str, new_created_date: str | datetime, uow: UnitOfWork | None = None
    ) -> bool:
        """Set one published record's ``created`` (database and index).

        ``record_id`` is the record's UUID (or its PID value); ``new_created_date`` an
        ISO 8601 timestamp (naive means UTC, offsets are converted) or a datetime.
        Returns True if updated, False if the record already has that instant.
        Raises ``ValueError`` for an invalid timestamp or a deleted record.
        """
        if isinstance(new_created_date, datetime):
            new_created = as_utc(new_created_date)
        else:
            new_created = parse_legacy_date(new_created_date)
        record_id = str(self._resolve(record_id).id)
        row = load_rows(self.target.model_cls, [record_id])[record_id]
        if not row.published:
            raise ValueError(f"Record {record_id} is deleted")
        if row.created == new_created:
            return False
        change = CreatedDateChange(row, new_created, write_db=True)
        uow.register(CreatedDatesCommitOp(self.target, [change], self._announce, refresh=True))
        return True

    def update_record_created_dates(
        self,
        start_date: str | None = None,
        end_date: str | None = None,
        batch_size: int = 100,
        dry_run: bool = False,
        verbose: bool = False,
        progress: ProgressCallback | None = None,
    ) -> dict:
        """Set ``created`` to the legacy creation date for every record that differs.

        ``start_date``/``end_date`` (``YYYY-MM-DD``) keep records whose current
        ``created`` falls on those days or between them. ``dry_run`` writes nothing and
        counts what a real run would do. ``progress(processed, total, stats)`` is
        called after each batch.

        Returns ``{"total_found", "updated", "skipped", "errors", "stopped_early"}``
        and, when the run stopped early, ``"stopped_at_record"`` (records processed).
        ``errors`` items are ``{"record_id", "pid", "error", "type"}`` with ``type``
        ``"invalid_date"`` (the legacy value is not a date) or ``"write_failed"``.
        """
        lower, upper = day_bounds(start_date, end_date)
        logger = current_app.logger
        prefix = "[DRY RUN] " if dry_run else ""
        logger.info(f"{prefix}Starting record created date updates")
        total = count_legacy_records(self.client, lower, upper)
        logger.info(f"Found {total} records with a legacy creation date to check")
        stats = {"total_found": total, "updated": 0, "skipped": 0, "errors": []}
        loop = self.batch_loop(total, batch_size, progress)
        wrote = []

        def process(batch: list[LegacyRecord]) -> bool:
            written = self._process_batch(batch, stats, dry_run, verbose)
            wrote.append(written)
            return written

        loop.run(iter_legacy_records(self.client, lower, upper), process, stats)
        if not stats["stopped_early"]:
            stats["total_found"] = stats["updated"] + stats["skipped"] + len(stats["errors"])
        if any(wrote):
            self.target.indexer.refresh()
        logger.info(
            f"{prefix}Record updates complete: {stats['updated']} "
            f"{'would be updated' if dry_run else 'updated'}, "
            f"{stats['skipped']} skipped, {len(stats['errors'])} errors"
        )
        return stats

    def _process_batch(
        self, batch: list[LegacyRecord], stats: dict, dry_run: bool, verbose: bool
    ) -> bool:
        """Classify one batch, then write its changes. Returns True if it wrote."""
        valid = []
        for item in batch:
            if item.error:
                self._fail(stats, item, item.error, "invalid_date", verbose, dry_run)
            else:
                valid.append(item)
        rows = load_rows(self.target.model_cls, [item.id for item in valid])
        changes, items = [], {}
        for item in valid:
            row = rows.get(item.id)
            if row is None or not row.published:
                self._fail(
                    stats, item, "Record not found or deleted", "write_failed", verbose, dry_run
                )
                continue
            if row.created == item.legacy_date and item.created == item.legacy_date:
                stats["skipped"] += 1
                self.log_item(verbose, f"Skipped record {item.pid} (dates already match)")
                continue
            changes.append(
                CreatedDateChange(row, item.legacy_date, row.created != item.legacy_date)
            )
            items[item.id] = item
        if not changes:
            return False
        if dry_run:
            for change in changes:
                stats["updated"] += 1
                self.log_item(
                    verbose,
                    f"[DRY RUN] Would update record {items[change.id].pid} "
                    f"from {_day(change.old_created)} to {_day(change.new_created)}",
                )
            return False
        failures = commit_changes(self.target, changes, self._announce)
        for change in changes:
            item = items[change.id]
            if item.id in failures:
                self._fail(stats, item, failures[item.id], "write_failed", verbose)
            else:
                stats["updated"] += 1
                self.log_item(
                    verbose,
                    f"Updated record {item.pid} from {_day(change.old_created)} "
                    f"to {_day(change.new_created)}",
                )
        return True

    def _fail(
        self,
        stats: dict,
        item: LegacyRecord,
        error: str,
        kind: str,
        verbose: bool,
        dry_run: bool = False,
    ):
        """Count one per-item error; write failures are always logged."""
        error_item = {"record_id": item.id, "pid": item.pid, "error": error, "type": kind}
        stats["errors"].append(error_item)
        if dry_run:
            message = f"[DRY RUN] Record {item.pid} cannot be updated: {error}"
        else:
            message = f"Failed to update record {item.pid}: {error}"
        if kind == "write_failed":
            current_app.logger.error(message)
        else:
            self.log_item(verbose, message, logging.WARNING)

    @staticmethod
    def _announce(changes: list[CreatedDateChange]) -> None:
        """Send ``record_created_dates_updated`` for committed changes; never raise."""
        payload = [
            {
                "record_id": change.id,
                "parent_id": change.row.parent_id,
                "old_created": change.old_created,
                "new_created": change.new_created,
            }
            for change in changes
        ]
        try:
            record_created_dates_updated.send(current_app._get_current_object(), changes=payload)
        except Exception:
            current_app.logger.exception("A record_created_dates_updated receiver failed")
