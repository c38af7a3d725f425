"""invenio-stats event builder and events indexer that produce enriched events.

``configure_stats_events`` (called by the extension's ``init_app``) appends
``enrichment_event_builder`` to the ``event_builders`` of the ``record-view`` and
``file-download`` events in ``STATS_EVENTS`` and sets their ``cls`` to
``EnrichedEventsIndexer``, so a site's normal event pipeline (signal or emitter ->
queue -> ``process_events`` task) writes enriched events.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from dateutil import parser
from flask import Flask
from invenio_stats.processors import EventsIndexer

from ..record_facts import record_facts
from . import indices
from .enrichment import enrich_event, strip_enrichment

BUILDER_PATH = "invenio_stats_dashboard.usage_events.builders.enrichment_event_builder"
INDEXER_PATH = "invenio_stats_dashboard.usage_events.builders.EnrichedEventsIndexer"
ENRICHED_EVENTS = ("record-view", "file-download")


def enrichment_event_builder(event, sender_app, **kwargs):
    """Add the data model's enrichment fields to a view or download event.

    Runs after invenio-rdm-records' builders (which set ``recid`` and the visitor
    fields). ``community_ids`` is the record's current membership: the event happens now.
    Returns ``None`` (drops the event) only when a previous builder already dropped it.
    """
    if event is None:
        return None
    record = kwargs.get("record")
    if record is None:
        return event
    relations = getattr(record, "relations", None)
    resource_type = (record.get("metadata") or {}).get("resource_type") or {}
    if relations is not None and resource_type and "title" not in resource_type:
        relations.dereference()
    facts = record_facts(record)
    event_type = "file-download" if "obj" in kwargs else "record-view"
    return enrich_event(event, facts, facts["current_community_ids"], event_type)


class EnrichedEventsIndexer(EventsIndexer):
    """invenio-stats indexer writing to the enriched monthly indices.

    For a month whose raw index still holds the read alias (not migrated yet), every
    event is written twice: enriched to ``...-YYYY-MM-v2.0.0`` and without enrichment to
    the raw index (which readers still use). Both copies have the same ``_id``, so the
    migration and its validation see one event, and readers never miss one.
    """

    def run(self):
        """Look up the alias once per run, then index the queue."""
        self._event_type = self.index.rsplit("events-stats-", 1)[-1]
        self._holders = indices.alias_holders(self._event_type)
        self._ready: dict[str, bool] = {}
        return super().run()

    def _dual(self, month: str) -> bool:
        """True when the raw index of the month is what readers read."""
        dual = indices.raw_index(self._event_type, month) in self._holders
        if month not in self._ready:
            indices.ensure_enriched_index(self._event_type, month, readable=not dual)
            self._ready[month] = dual
        return dual

    def actionsiter(self):
        """Re-target invenio-stats' actions to the enriched index (plus raw while needed)."""
        for action in super().actionsiter():
            source = action["_source"]
            month = _month(source.get("timestamp"))
            if month is None:
                yield action
                continue
            dual = self._dual(month)
            yield {**action, "_index": indices.enriched_index(self._event_type, month)}
            if dual:
                yield {**action, "_source": strip_enrichment(source)}


def _month(timestamp) -> str | None:
    if not timestamp:
        return None
    value = timestamp if isinstance(timestamp, datetime) else parser.parse(timestamp)
    return value.strftime("%Y-%m")


def configure_stats_events(app: Flask) -> None:
    """Register the enrichment builder and indexer in the app's ``STATS_EVENTS``.

    Only dict entries are changed (copied, never mutated in place, since the defaults are
    module-level dicts of invenio-app-rdm); a site that defines its own entries keeps
    them and can add ``BUILDER_PATH`` / ``INDEXER_PATH`` itself. Disabled by
    ``STATS_DASHBOARD_ENRICH_EVENTS = False``.
    """
    if not app.config.get("STATS_DASHBOARD_ENRICH_EVENTS", True):
        return
    events = dict(app.config.get("STATS_EVENTS") or {})
    for name in ENRICHED_EVENTS:
        entry = events.get(name)
        if not isinstance(entry, Mapping):
            continue
        entry = dict(entry)
        builders = list(entry.get("event_builders") or [])
        if BUILDER_PATH not in builders and enrichment_event_builder not in builders:
            builders.append(BUILDER_PATH)
        entry["event_builders"] = builders
        cls = entry.get("cls")
        if cls is None or cls is EventsIndexer or cls == "invenio_stats.processors:EventsIndexer":
            entry["cls"] = INDEXER_PATH
        events[name] = entry
    app.config["STATS_EVENTS"] = events
