"""Create communities, records and usage events through the real InvenioRDM services.

Used by the test fixtures, the demo site builder and the benchmarks, so all three build
data the same way a live site does (service calls, unit of work, real indexing).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from io import BytesIO

from flask import current_app
from invenio_communities.communities.records.api import Community
from invenio_communities.proxies import current_communities
from invenio_db import db
from invenio_rdm_records.proxies import current_rdm_records_service
from invenio_rdm_records.records.api import RDMDraft, RDMRecord

from ..core.days import to_datetime, utc_now
from ..core.indices import refresh_record_classes

BROWSER_USER_AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
]


def _as_datetime(value: str | datetime) -> datetime:
    """An ISO date or datetime as a naive UTC datetime (how Invenio stores them)."""
    return to_datetime(value)


def create_user(email: str, password: str = "demo-password"):
    """Create an active, confirmed user (or reuse it) and return an identity for it."""
    from flask_principal import UserNeed
    from flask_security.utils import hash_password
    from invenio_access.permissions import any_user, authenticated_user
    from invenio_access.utils import get_identity
    from invenio_accounts.models import User

    user = User.query.filter_by(email=email).one_or_none()
    if user is None:
        datastore = current_app.extensions["security"].datastore
        user = datastore.create_user(
            email=email,
            password=hash_password(password),
            active=True,
            confirmed_at=utc_now(),
        )
        db.session.commit()
        from invenio_users_resources.proxies import current_users_service

        current_users_service.indexer.index_by_id(user.id)
        refresh_record_classes(current_users_service.record_cls)
    identity = get_identity(user)
    identity.provides.update({UserNeed(user.id), authenticated_user, any_user})
    return identity


def create_community(
    identity,
    slug: str,
    title: str | None = None,
    custom_fields: dict | None = None,
    visibility: str = "public",
    created: str | datetime | None = None,
):
    """Create a community (optionally backdated) and return the service result item."""
    data = {
        "slug": slug,
        "access": {"visibility": visibility, "review_policy": "open"},
        "metadata": {"title": title or slug.replace("-", " ").title(), "type": {"id": "topic"}},
    }
    if custom_fields:
        data["custom_fields"] = custom_fields
    item = current_communities.service.create(identity, data)
    if created is not None:
        set_created(item._record, created)
    refresh_record_classes(Community)
    return item


def default_metadata(title: str = "A record", **overrides) -> dict:
    """Minimal valid RDM metadata; keyword arguments replace or add fields."""
    metadata = {
        "creators": [
            {
                "person_or_org": {"family_name": "Brown", "given_name": "Troy", "type": "personal"},
                "affiliations": [{"id": "01ggx4157"}],
            }
        ],
        "publication_date": "2020-06-01",
        "publisher": "Acme Inc",
        "resource_type": {"id": "publication-article"},
        "title": title,
        "languages": [{"id": "eng"}],
    }
    metadata.update(overrides)
    return metadata


@dataclass
class RecordSpec:
    """What to publish: metadata, files (key -> size in bytes), communities, dates."""

    metadata: dict = field(default_factory=default_metadata)
    files: dict[str, int] = field(default_factory=dict)
    communities: Sequence = ()
    custom_fields: dict = field(default_factory=dict)
    created: str | datetime | None = None
    access: str = "public"
    files_access: str | None = None
    """Access of the files (default: ``access``); "restricted" on a public record hides
    its files from the search index."""
    embargo_until: str | None = None
    """An active embargo until this day (``YYYY-MM-DD``): the files stay restricted."""


def publish_record(identity, spec: RecordSpec | None = None, **kwargs) -> RDMRecord:
    """Create a draft, upload its files, put it in its communities and publish it.

    The first community becomes the default one. Communities are attached to the
    parent before publishing (as an accepted direct include), so the publish
    components see the final membership. ``created`` backdates the published record.
    Returns the published ``RDMRecord`` API object.
    """
    spec = spec or RecordSpec(**kwargs)
    service = current_rdm_records_service
    access = {"record": spec.access, "files": spec.files_access or spec.access}
    if spec.embargo_until:
        access["files"] = "restricted"
        access["embargo"] = {"active": True, "until": spec.embargo_until, "reason": "embargo"}
    data = {
        "pids": {},
        "access": access,
        "files": {"enabled": bool(spec.files)},
        "metadata": spec.metadata,
    }
    if spec.custom_fields:
        data["custom_fields"] = spec.custom_fields
    draft = service.create(identity, data)
    if spec.files:
        service.draft_files.init_files(identity, draft.id, [{"key": key} for key in spec.files])
        for key, size in spec.files.items():
            service.draft_files.set_file_content(
                identity, draft.id, key, BytesIO(b"x" * size), content_length=size
            )
            service.draft_files.commit_file(identity, draft.id, key)
    if spec.communities:
        add_communities_to_draft(draft.id, spec.communities)
    record = service.publish(identity, draft.id)._record
    if spec.created is not None:
        set_created(record, spec.created)
    refresh_record_classes(RDMRecord)
    return record


def add_communities_to_draft(draft_id: str, communities: Iterable) -> None:
    """Attach communities to a draft's parent directly (no review request)."""
    draft = RDMDraft.pid.resolve(draft_id, registered_only=False)
    for position, community in enumerate(communities):
        record = getattr(community, "_record", community)
        draft.parent.communities.add(record, default=position == 0)
    draft.parent.commit()
    db.session.commit()


def set_created(record, created: str | datetime) -> None:
    """Backdate a record's or community's ``created`` in the database and the index.

    Migrated sites look exactly like this: the row's ``created`` column differs from
    when the service call happened.
    """
    record.model.created = _as_datetime(created)
    db.session.commit()
    if isinstance(record, Community):
        current_communities.service.indexer.index(record)
    else:
        current_rdm_records_service.indexer.index(record)


@dataclass
class UsageEvent:
    """One view or download by one visitor at one moment."""

    record: RDMRecord
    timestamp: str | datetime
    visitor: int
    file_key: str | None = None
    referrer: str | None = None
    user_agent: str | None = None

    @property
    def event_type(self) -> str:
        """The invenio-stats event name: a download when a file is named."""
        return "file-download" if self.file_key else "record-view"


def emit_usage_events(events: Iterable[UsageEvent]) -> int:
    """Queue events through invenio-stats' own builders, with a chosen timestamp.

    Each event is built in a request context carrying a real browser user agent and a
    per-visitor IP address (invenio-stats drops robot agents and folds one visitor's
    repeated hits), then published to the event queue. Call ``process_usage_events``
    to index them. Returns the number of events queued.
    """
    from invenio_queues.proxies import current_queues
    from invenio_stats.proxies import current_stats

    current_queues.declare()
    emitters = {}
    queued = 0
    for event in events:
        emitter = emitters.get(event.event_type)
        if emitter is None:
            emitter = emitters[event.event_type] = current_stats.get_event_emitter(event.event_type)
        visitor = event.visitor
        headers = {
            "User-Agent": event.user_agent
            or BROWSER_USER_AGENTS[visitor % len(BROWSER_USER_AGENTS)]
        }
        if event.referrer:
            headers["Referer"] = event.referrer
        ip = f"10.{(visitor >> 16) & 255}.{(visitor >> 8) & 255}.{visitor & 255}"
        built = {}
        with current_app.test_request_context(headers=headers, environ_base={"REMOTE_ADDR": ip}):
            kwargs = {"record": event.record, "via_api": False}
            if event.file_key:
                kwargs["obj"] = event.record.files[event.file_key].object_version
            for builder in emitter.builders:
                built = builder(built, current_app, **kwargs)
                if built is None:
                    break
        if built is None:
            continue
        built["timestamp"] = _as_datetime(event.timestamp).isoformat()
        current_stats.publish(event.event_type, [built])
        queued += 1
    return queued


def process_usage_events() -> dict[str, int]:
    """Index queued events (invenio-stats ``process_events``) and refresh the indices."""
    from invenio_stats.tasks import process_events

    from ..core.engine import search_client

    results = process_events(["record-view", "file-download"])
    prefix = current_app.config.get("SEARCH_INDEX_PREFIX", "")
    search_client.indices.refresh(index=f"{prefix}events-stats-*")
    return {name: result[0] for name, result in results}


def random_visitors(rng: random.Random, count: int, population: int = 1_000_000) -> list[int]:
    """Distinct visitor numbers (each becomes its own IP address)."""
    return rng.sample(range(1, population), count)
