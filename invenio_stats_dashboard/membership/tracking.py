"""Live tracking: InvenioRDM hooks that keep the membership history current.

No installed package is patched. Three configuration hooks of InvenioRDM 14 are used:

- ``RDM_RECORDS_SERVICE_COMPONENTS``: :class:`MembershipHistoryComponent` sees every
  publish (new records, new versions, edits, community submissions accepted), every
  deletion (tombstone) and every restore;
- ``RDM_RECORD_COMMUNITIES_SERVICE_COMPONENTS``: :class:`RecordCommunitiesHistoryComponent`
  sees removals from a community and bulk additions;
- ``RDM_COMMUNITY_INCLUSION_REQUEST_CLS``: the configured inclusion request class is
  wrapped so its ``accept`` action (a curator accepting, or a direct include) is seen.

Each hook only registers a :class:`MembershipSyncOp` on the unit of work. After the
database commit (``on_post_commit``) the op compares the parents' records with their
history and writes what changed. A failure there is logged and never breaks the record
operation; :func:`~invenio_stats_dashboard.membership.service.reconcile_membership` repairs it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from flask import current_app
from invenio_db.uow import Operation
from invenio_rdm_records.records.api import RDMRecord
from invenio_records_resources.services.records.components import ServiceComponent

from .sources import record_states_of_parents
from .store import write_plans
from .sync import plan_batch, utcnow


def sync_parents(parent_ids: Iterable[str], now: datetime | None = None) -> int:
    """Bring the history of every published version of the parents up to date (live).

    Returns the number of bulk actions written.
    """
    states = record_states_of_parents(parent_ids)
    if not states:
        return 0
    plans = plan_batch(states, now or utcnow(), live=True)
    return write_plans(plans, refresh=True)


class MembershipSyncOp(Operation):
    """Unit-of-work operation: sync the history of some parents after the commit.

    One op per unit of work: later registrations merge their ids into the first one.
    """

    def __init__(self, parent_ids: Iterable = (), record_pids: Iterable[str] = ()):
        """Parents (UUIDs) and/or records (PID values) whose membership may change."""
        self.parent_ids = {str(pid) for pid in parent_ids}
        self.record_pids = set(record_pids)

    def on_register(self, uow):
        """Merge into an op already registered on this unit of work."""
        for op in getattr(uow, "_operations", []):
            if isinstance(op, MembershipSyncOp):
                op.parent_ids |= self.parent_ids
                op.record_pids |= self.record_pids
                self.parent_ids, self.record_pids = set(), set()
                return

    def on_post_commit(self, uow):
        """Write the history changes; log (never raise) on failure."""
        if not (self.parent_ids or self.record_pids):
            return
        if not current_app.config.get("COMMUNITY_STATS_TRACK_MEMBERSHIP", True):
            return
        try:
            parents = set(self.parent_ids)
            for pid in self.record_pids:
                parents.add(str(RDMRecord.pid.resolve(pid).parent.id))
            sync_parents(parents)
        except Exception:
            current_app.logger.warning(
                "Membership history not updated for parents %s; "
                "the next reconciliation repairs it.",
                sorted(self.parent_ids | self.record_pids),
                exc_info=True,
            )


def _register(uow, record) -> None:
    parent = getattr(record, "parent", None)
    if uow is not None and parent is not None and parent.id is not None:
        uow.register(MembershipSyncOp([parent.id]))


class MembershipHistoryComponent(ServiceComponent):
    """RDM records service component: publish, delete (tombstone) and restore."""

    def publish(self, identity, draft=None, record=None, **kwargs):
        """A record (or new version) was published, possibly into communities."""
        _register(self.uow, record)

    def delete_record(self, identity, data=None, record=None, **kwargs):
        """A record was tombstoned: it leaves every community and global."""
        _register(self.uow, record)

    def restore_record(self, identity, record=None, **kwargs):
        """A tombstoned record was restored: it re-enters."""
        _register(self.uow, record)


class RecordCommunitiesHistoryComponent(ServiceComponent):
    """Record communities service component: removals and bulk additions."""

    def remove_community_from_record(self, identity, record=None, **kwargs):
        """A record's parent leaves a community."""
        _register(self.uow, record)

    def bulk_add(self, identity, community_id=None, record_ids=(), **kwargs):
        """Records are added to a community without requests."""
        if self.uow is not None and record_ids:
            self.uow.register(MembershipSyncOp(record_pids=record_ids))


def tracking_request_cls(base):
    """A subclass of a community request type whose ``accept`` is tracked."""
    accept = base.available_actions["accept"]
    if getattr(accept, "tracks_membership", False):
        return base

    class TrackedAcceptAction(accept):
        tracks_membership = True

        def execute(self, identity, uow, **kwargs):
            super().execute(identity, uow, **kwargs)
            record = self.request.topic.resolve()
            _register(uow, record)

    return type(
        base.__name__,
        (base,),
        {
            "__module__": __name__,
            "__doc__": base.__doc__,
            "available_actions": {**base.available_actions, "accept": TrackedAcceptAction},
        },
    )


def track_registered_inclusion_requests(app) -> None:
    """Make the request type registry hold the tracked inclusion request class.

    invenio-requests builds its registry from ``RDM_COMMUNITY_INCLUSION_REQUEST_CLS``
    when it initialises, which may be before this extension set that config (extension
    order is not fixed). Run once every extension is initialised (``finalize_app``),
    this replaces a registered, untracked class with its tracked subclass.
    """
    from invenio_rdm_records.requests import CommunityInclusion

    requests_ext = app.extensions.get("invenio-requests")
    if requests_ext is None:
        return
    registry = requests_ext.request_type_registry
    current = registry.lookup(CommunityInclusion.type_id, quiet=True)
    if current is None:
        return
    tracked = tracking_request_cls(type(current))
    if tracked is not type(current):
        registry.register_type(tracked(), force=True)


def register_membership_hooks(app) -> None:
    """Add the components and the tracked request class to the app's config.

    Idempotent; keeps whatever components or request class the instance configured.
    """
    from invenio_rdm_records.requests import CommunityInclusion
    from invenio_rdm_records.services.components import DefaultRecordsComponents

    for key, default, component in (
        ("RDM_RECORDS_SERVICE_COMPONENTS", DefaultRecordsComponents, MembershipHistoryComponent),
        ("RDM_RECORD_COMMUNITIES_SERVICE_COMPONENTS", [], RecordCommunitiesHistoryComponent),
    ):
        components = list(app.config.get(key) or default)
        if component not in components:
            app.config[key] = [*components, component]
    base = app.config.get("RDM_COMMUNITY_INCLUSION_REQUEST_CLS") or CommunityInclusion
    app.config["RDM_COMMUNITY_INCLUSION_REQUEST_CLS"] = tracking_request_cls(base)
