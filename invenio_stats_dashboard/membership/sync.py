"""Plan the history writes of a batch of records (shared by live tracking and backfill)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

from ..core.days import utc_now
from .plan import RecordPlan, RecordState, plan_record
from .sources import load_evidence
from .store import read_history

_CLOCK: ContextVar[datetime | None] = ContextVar("membership_clock", default=None)


def utcnow() -> datetime:
    """Now, as a naive UTC datetime (how Invenio stores dates), or the replay clock."""
    return _CLOCK.get() or utc_now()


@contextmanager
def membership_clock(moment: datetime) -> Iterator[None]:
    """Date the membership changes live tracking sees inside the block at ``moment``.

    For replaying a site's past through the real services (the demo builder builds
    eight months of history in minutes); normal operation never sets it.
    """
    token = _CLOCK.set(moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment)
    try:
        yield
    finally:
        _CLOCK.reset(token)


def plan_batch(
    states: Sequence[RecordState],
    now: datetime,
    *,
    live: bool = False,
    scope: set[str] | None = None,
) -> list[RecordPlan]:
    """The non-empty plans of a batch: one history search and two SQL queries in all."""
    history = read_history(state.record_id for state in states)
    evidence = load_evidence(states)
    plans = (
        plan_record(
            state,
            history.get(state.record_id, []),
            now,
            live=live,
            evidence=evidence.get(state.parent_id),
            scope=scope,
        )
        for state in states
    )
    return [plan for plan in plans if plan]
