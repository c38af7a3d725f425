"""Per-community facts for ``community-events status --community-details``."""

from __future__ import annotations

import uuid

from invenio_communities.communities.records.models import CommunityMetadata
from invenio_search import current_search_client

from .history import events_alias
from .model import GLOBAL


def community_details(community_ids: list[str]) -> dict[str, dict]:
    """Slug, title, stored events and first/last event day of each community.

    One SQL query, and a composite aggregation paged over the communities (exact at
    any size).
    """
    details: dict[str, dict] = {cid: {} for cid in community_ids}
    if GLOBAL in details:
        details[GLOBAL].update(slug="-", title="all records")
    keys = []
    for cid in community_ids:
        try:
            keys.append(uuid.UUID(cid))
        except ValueError:
            continue
    if keys:
        for row in CommunityMetadata.query.filter(CommunityMetadata.id.in_(keys)):
            title = ((row.json or {}).get("metadata") or {}).get("title", "-")
            details[str(row.id)].update(slug=row.slug or "-", title=title)
    body = {
        "size": 0,
        "query": {"terms": {"community_id": list(community_ids)}},
        "aggs": {
            "by_community": {
                "composite": {
                    "size": 500,
                    "sources": [{"community": {"terms": {"field": "community_id"}}}],
                },
                "aggs": {
                    "first": {"min": {"field": "event_date"}},
                    "last": {"max": {"field": "event_date"}},
                },
            }
        },
    }
    while True:
        response = current_search_client.search(
            index=events_alias(), body=body, ignore_unavailable=True, allow_no_indices=True
        )
        agg = (response.get("aggregations") or {}).get("by_community")
        if not agg:
            break
        for bucket in agg["buckets"]:
            info = details.setdefault(bucket["key"]["community"], {})
            info["events"] = bucket["doc_count"]
            for name in ("first", "last"):
                value = bucket[name].get("value_as_string") or ""
                info[f"{name}_event"] = value[:10] or "-"
        if len(agg["buckets"]) < 500 or "after_key" not in agg:
            break
        body["aggs"]["by_community"]["composite"]["after"] = agg["after_key"]
    return details
