"""Enrichment of view and download events with the record's metadata and communities.

``enrich_event`` adds the data model's enrichment fields ("Enriched usage events") to
one event, from the facts :func:`~invenio_stats_dashboard.record_facts.record_facts`
read from a live record (the event builder) or its index document (the migration).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..record_facts import file_extension

ENRICHMENT_FIELDS = (
    "community_ids",
    "resource_type",
    "access_status",
    "publisher",
    "languages",
    "subjects",
    "rights",
    "affiliations",
    "funders",
    "journal_title",
    "file_types",
)
"""Fields an enriched event has on top of the invenio-stats event fields."""

IDENTITY_FIELDS = ("record_id", "parent_id")
"""Record and parent UUIDs: in the raw mapping too, but only set by the enrichment."""


def enrich_event(
    event: dict, facts: Mapping | None, community_ids: Iterable[str], event_type: str
) -> dict:
    """Add the enrichment fields to ``event`` (in place) and return it.

    ``facts`` is ``record_facts(...)`` of the event's record, or ``None`` when the
    record cannot be found (purged): the event then gets empty enrichment. Views carry
    the record's file types, downloads the extension of the downloaded file.
    """
    facts = facts or {}
    for key in ("record_id", "parent_id"):
        if facts.get(key) and not event.get(key):
            event[key] = facts[key]
    event["community_ids"] = sorted(set(community_ids))
    for key in ENRICHMENT_FIELDS[1:-1]:
        event[key] = facts.get(key)
    if event_type == "file-download":
        key = event.get("file_key")
        event["file_types"] = [file_extension(key)] if key else []
    else:
        event["file_types"] = list(facts.get("record_file_types") or [])
    return event


def strip_enrichment(event: Mapping) -> dict:
    """The event without its enrichment fields (what a raw index accepts)."""
    return {k: v for k, v in event.items() if k not in ENRICHMENT_FIELDS}
