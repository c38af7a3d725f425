"""Repair of communities' ``created`` from the oldest legacy date of their group's records."""

import uuid
from datetime import datetime

import arrow
from flask import current_app
from invenio_communities.proxies import current_communities
from invenio_db.uow import UnitOfWork, unit_of_work

from .base import CreatedDatesHelperBase
from .batches import ProgressCallback
from .legacy_dates import as_utc, iso, start_of_day
from .scans import (
    GroupCommunity,
    count_group_communities,
    iter_group_communities,
    oldest_legacy_dates_by_group,
)
from .writes import CreatedDateChange, CreatedDatesCommitOp, Target, commit_changes, load_rows


def _day(value: datetime) -> str:
    return as_utc(value).strftime("%Y-%m-%d")


class CommunitiesHelper(CreatedDatesHelperBase):
    """Find and repair communities that were Commons groups.

    A community with ``custom_fields.kcr:commons_group_id`` gets ``created`` set to the
    start of the UTC day of the oldest valid legacy creation date among the published,
    non-deleted records whose ``hclegacy:groups_for_deposit`` holds exactly that group
    identifier, if that is earlier than its current ``created``. The oldest date of
    every group comes from one scroll over the records index, not one search per
    community.
    """

    noun = "communities"
    stop_key = "stopped_at_community"

    @property
    def service(self):
        """The communities service (its record class and indexer are used)."""
        return current_communities.service

    @property
    def target(self) -> Target:
        """Communities: their API class, model and the service indexer."""
        return Target(self.service.record_cls, self.service.indexer)

    def find_communities_needing_created_date_update(self) -> list[dict]:
        """Every non-deleted community with a Commons group id (they may need updating).

        Returns dicts ``{"id", "slug", "group_id", "current_created"}``.
        """
        return [
            {
                "id": community.id,
                "slug": community.slug,
                "group_id": community.group_id,
                "current_created": iso(community.created),
            }
            for community in iter_group_communities(self.client)
        ]

    def find_oldest_record_for_community(self, group_id: str) -> arrow.Arrow | None:
        """Start of the UTC day of the group's oldest valid legacy creation date.

        Only records whose groups contain exactly ``group_id`` count ("25" does not
        match "125" or "25-b"). Returns ``None`` when no such record has a valid date.
        """
        oldest = oldest_legacy_dates_by_group(self.client, group_id=str(group_id))
        found = oldest.get(str(group_id))
        return arrow.get(start_of_day(found)) if found is not None else None

    def _resolve(self, community_id: str):
        """A community by UUID or by slug."""
        record_cls = self.service.record_cls
        try:
            uuid.UUID(str(community_id))
        except ValueError:
            return record_cls.pid.resolve(str(community_id))
        return record_cls.get_record(community_id)

    @unit_of_work()
    def update_single_community_created_date(
        self,
        community_id: str,
        new_created_date: arrow.Arrow | datetime,
        uow: UnitOfWork | None = None,
    ) -> bool:
        """Set one community's ``created`` if ``new_created_date`` is earlier.

        Returns True if updated, False if the community's date is already the same
        or earlier. Database and index are both updated.
        """
        if isinstance(new_created_date, arrow.Arrow):
            new_created_date = new_created_date.datetime
        new_created = as_utc(new_created_date)
        community_id = str(self._resolve(community_id).id)
        row = load_rows(self.target.model_cls, [community_id])[community_id]
        if not new_created < row.created:
            return False
        change = CreatedDateChange(row, new_created, write_db=True)
        uow.register(CreatedDatesCommitOp(self.target, [change], refresh=True))
        return True

    def update_community_created_dates(
        self,
        batch_size: int = 100,
        dry_run: bool = False,
        verbose: bool = False,
        progress: ProgressCallback | None = None,
    ) -> dict:
        """Move every group community's ``created`` back to its oldest record's day.

        Returns ``{"total_found", "updated", "skipped", "no_records", "errors",
        "stopped_early"}`` and, when the run stopped early, ``"stopped_at_community"``.
        ``errors`` items are ``{"community_id", "slug", "group_id", "error"}``.
        """
        logger = current_app.logger
        prefix = "[DRY RUN] " if dry_run else ""
        logger.info(f"{prefix}Starting community created date updates")
        total = count_group_communities(self.client)
        logger.info(f"Found {total} communities with a Commons group id to check")
        stats = {"total_found": total, "updated": 0, "skipped": 0, "no_records": 0, "errors": []}
        loop = self.batch_loop(total, batch_size, progress)
        oldest = oldest_legacy_dates_by_group(self.client)
        wrote = []

        def process(batch: list[GroupCommunity]) -> bool:
            written = self._process_batch(batch, oldest, stats, dry_run, verbose)
            wrote.append(written)
            return written

        loop.run(iter_group_communities(self.client), process, stats)
        if not stats["stopped_early"]:
            stats["total_found"] = (
                stats["updated"] + stats["skipped"] + stats["no_records"] + len(stats["errors"])
            )
        if any(wrote):
            self.target.indexer.refresh()
        logger.info(
            f"{prefix}Community updates complete: {stats['updated']} "
            f"{'would be updated' if dry_run else 'updated'}, "
            f"{stats['skipped']} skipped, {stats['no_records']} no records, "
            f"{len(stats['errors'])} errors"
        )
        return stats

    def _process_batch(
        self,
        batch: list[GroupCommunity],
        oldest: dict[str, datetime],
        stats: dict,
        dry_run: bool,
        verbose: bool,
    ) -> bool:
        """Classify one batch of communities, then write its changes."""
        targets = {}
        for item in batch:
            self.log_item(
                verbose, f"Processing community '{item.slug}' (group_id: {item.group_id})"
            )
            found = oldest.get(item.group_id)
            if found is None:
                stats["no_records"] += 1
                self.log_item(verbose, f"No records found for community '{item.slug}'")
                continue
            targets[item.id] = start_of_day(found)
            self.log_item(verbose, f"Found oldest record for group {item.group_id}: {_day(found)}")
        items = {item.id: item for item in batch if item.id in targets}
        rows = load_rows(self.target.model_cls, list(targets))
        changes = []
        for community_id, target in targets.items():
            item, row = items[community_id], rows.get(community_id)
            if row is None or not row.published:
                self._fail(stats, item, "Community not found or deleted", dry_run)
                continue
            write_db = target < row.created
            if not write_db and item.created == row.created:
                stats["skipped"] += 1
                self.log_item(verbose, f"Skipped community '{item.slug}' (date already earlier)")
                continue
            changes.append(CreatedDateChange(row, target if write_db else row.created, write_db))
        if not changes:
            return False
        if dry_run:
            for change in changes:
                stats["updated"] += 1
                slug = items[change.id].slug
                self.log_item(
                    verbose,
                    f"[DRY RUN] Would update {slug} from {_day(change.old_created)} "
                    f"to {_day(change.new_created)}",
                )
            return False
        failures = commit_changes(self.target, changes)
        for change in changes:
            item = items[change.id]
            if item.id in failures:
                self._fail(stats, item, failures[item.id])
            else:
                stats["updated"] += 1
                self.log_item(
                    verbose,
                    f"Updated community '{item.slug}' from {_day(change.old_created)} "
                    f"to {_day(change.new_created)}",
                )
        return True

    @staticmethod
    def _fail(stats: dict, item: GroupCommunity, error: str, dry_run: bool = False) -> None:
        """Count and log one community that could not be updated."""
        if dry_run:
            current_app.logger.error(
                f"[DRY RUN] Community '{item.slug}' cannot be updated: {error}"
            )
        else:
            current_app.logger.error(f"Failed to update community '{item.slug}': {error}")
        stats["errors"].append(
            {"community_id": item.id, "slug": item.slug, "group_id": item.group_id, "error": error}
        )
