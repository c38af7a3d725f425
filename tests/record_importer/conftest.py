"""Fixtures for the created-date repair: legacy records, and reading dates back.

Dates are read back from the two places the repair writes: the database row
(``created`` of the model, read with a fresh query) and the search index (the
document's ``created``, and search results sorted and filtered by it).
"""

from datetime import datetime

import pytest
from invenio_access.permissions import system_identity
from invenio_communities.communities.records.models import CommunityMetadata
from invenio_communities.proxies import current_communities
from invenio_db import db
from invenio_rdm_records.proxies import current_rdm_records_service
from invenio_rdm_records.records.api import RDMRecord
from invenio_rdm_records.records.models import RDMDraftMetadata, RDMRecordMetadata
from invenio_search import current_search_client

from invenio_record_importer_kcworks.services.legacy_dates import as_utc
from invenio_stats_dashboard.core.indices import record_class_alias, refresh_record_classes
from invenio_stats_dashboard.demo.factories import default_metadata

MISSING = object()
MIGRATED = "2024-05-01T12:00:00Z"
"""When the migration happened: the ``created`` every migrated record starts with."""


def utc(text: str) -> datetime:
    """An aware UTC datetime from ISO text (``Z`` allowed)."""
    return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))


def legacy_fields(legacy=MISSING, groups=()) -> dict:
    """The KC custom fields of a migrated record."""
    fields = {}
    if legacy is not MISSING:
        fields["hclegacy:record_creation_date"] = legacy
    if groups:
        fields["hclegacy:groups_for_deposit"] = [
            {"group_name": f"Group {g}", "group_identifier": g} for g in groups
        ]
    return fields


@pytest.fixture()
def legacy_record(record_factory):
    """``legacy_record(legacy, groups=(), created=MIGRATED, title=...)`` publishes a record."""

    def _make(legacy=MISSING, groups=(), created=MIGRATED, title="Migrated work", **kwargs):
        return record_factory(
            created=created,
            custom_fields=legacy_fields(legacy, groups),
            metadata=default_metadata(title),
            **kwargs,
        )

    return _make


@pytest.fixture()
def new_version(owner):
    """``new_version(record, legacy, created=MIGRATED)`` publishes a new version of a record."""
    from invenio_stats_dashboard.demo.factories import set_created

    def _make(record, legacy=MISSING, groups=(), created=MIGRATED):
        service = current_rdm_records_service
        draft = service.new_version(owner.identity, record["id"])
        data = draft.to_dict()
        data["metadata"]["publication_date"] = "2021-01-01"
        data["custom_fields"] = legacy_fields(legacy, groups)
        service.update_draft(owner.identity, draft.id, data)
        published = service.publish(owner.identity, draft.id)._record
        set_created(published, created)
        refresh_record_classes(RDMRecord)
        return published

    return _make


def db_created(record_id) -> datetime:
    """``created`` of a published record's row, read fresh from the database."""
    db.session.expire_all()
    return as_utc(db.session.get(RDMRecordMetadata, record_id).created)


def db_revision(record_id) -> tuple[int, datetime]:
    """``(version_id, updated)`` of a published record's row."""
    db.session.expire_all()
    model = db.session.get(RDMRecordMetadata, record_id)
    return model.version_id, as_utc(model.updated)


def draft_created(draft_id) -> datetime:
    """``created`` of a draft's row."""
    db.session.expire_all()
    return as_utc(db.session.get(RDMDraftMetadata, draft_id).created)


def community_db_created(community_id) -> datetime:
    """``created`` of a community's row."""
    db.session.expire_all()
    return as_utc(db.session.get(CommunityMetadata, community_id).created)


def _indexed(index: str, doc_id) -> dict:
    hits = current_search_client.search(
        index=index, body={"query": {"ids": {"values": [str(doc_id)]}}}
    )["hits"]["hits"]
    assert len(hits) == 1, f"{doc_id} not found in {index}"
    return hits[0]["_source"]


def indexed_created(record_id) -> datetime:
    """``created`` of a published record's search document."""
    return utc(_indexed(record_class_alias(RDMRecord), record_id)["created"])


def indexed_document(record_id) -> dict:
    """A published record's whole search document."""
    return _indexed(record_class_alias(RDMRecord), record_id)


def community_indexed_created(community_id) -> datetime:
    """``created`` of a community's search document."""
    alias = record_class_alias(current_communities.service.record_cls)
    return utc(_indexed(alias, community_id)["created"])


def search_by_created(q: str | None = None, sort: str = "oldest") -> list[str]:
    """Record UUIDs in the order the records service returns them (sorted by created)."""
    params = {"sort": sort, "size": 100}
    if q:
        params["q"] = q
    result = current_rdm_records_service.search(system_identity, params=params)
    return [hit["id"] for hit in result]


def recid(record) -> str:
    """A record's PID value."""
    return record["id"]
