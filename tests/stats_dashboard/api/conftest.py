"""A small site for the API: a public and a restricted community, records with files,
views and downloads, everything aggregated; and the users that ask.

``RECORDS`` and ``EVENTS`` are the fixture truth the tests compute expectations from.
"""

from dataclasses import dataclass
from datetime import date, datetime

import pytest
from invenio_search import current_search_client
from invenio_search.engine import search as search_engine

from invenio_stats_dashboard.aggregations.service import run_aggregations
from invenio_stats_dashboard.core.indices import raw_index
from invenio_stats_dashboard.demo import factories
from invenio_stats_dashboard.membership.service import generate_community_events
from invenio_stats_dashboard.usage_events.migration import MigrationOptions, migrate
from invenio_stats_dashboard.usage_events.synthetic import RecordTarget, raw_event

from ..permissions_site import users_and_communities

END = date(2024, 1, 31)


@dataclass(frozen=True)
class Spec:
    key: str
    created: date
    communities: tuple[str, ...]
    files: dict
    resource_type: str


RECORDS = [
    Spec("a1", date(2024, 1, 3), ("open",), {"a.pdf": 100}, "publication-article"),
    Spec("a2", date(2024, 1, 5), ("open", "closed"), {}, "dataset"),
    Spec("a3", date(2024, 1, 8), ("closed",), {"b.csv": 30, "c.pdf": 20}, "publication-article"),
]
EVENTS = [
    # (record, moment, visitor, downloaded file or None)
    ("a1", datetime(2024, 1, 10, 9), 1, None),
    ("a1", datetime(2024, 1, 10, 15), 2, None),
    ("a2", datetime(2024, 1, 12, 11), 3, None),
    ("a3", datetime(2024, 1, 15, 8), 4, "c.pdf"),
]


@pytest.fixture(scope="module")
def app_config(app_config, cache_uri):
    app_config.update(
        COMMUNITY_STATS_EARLIEST_DATE="2023-12-01",
        COMMUNITY_STATS_TRACK_MEMBERSHIP=False,
        COMMUNITY_STATS_RECONCILE_BEFORE_AGGREGATION=False,
        COMMUNITY_STATS_CACHE_WARM_AFTER_AGGREGATION=False,
    )
    return app_config


@dataclass
class ApiSite:
    communities: dict[str, str]
    slugs: dict[str, str]
    records: dict
    users: dict


@pytest.fixture(scope="module")
def api_site(running_app, database, UserFixture):
    """Built once for the module: users, communities, records, history, usage, aggregates."""
    app = running_app.app
    users, communities = users_and_communities(app, database, UserFixture, "api")
    owner = users["owner"].identity
    records = {}
    for spec in RECORDS:
        records[spec.key] = factories.publish_record(
            owner,
            factories.RecordSpec(
                metadata=factories.default_metadata(
                    f"Record {spec.key}", resource_type={"id": spec.resource_type}
                ),
                files=spec.files,
                communities=[communities[c] for c in spec.communities],
                created=f"{spec.created.isoformat()}T09:00:00",
            ),
        )
    generate_community_events()
    actions = []
    for key, moment, visitor, file_key in EVENTS:
        target = RecordTarget.from_record(records[key])
        file = next((f for f in target.files if f[1] == file_key), None) if file_key else None
        _id, doc = raw_event(target, moment, visitor=visitor, file=file)
        name = "download" if file_key else "view"
        actions.append({"_index": raw_index(name, "2024-01"), "_id": _id, "_source": doc})
    search_engine.helpers.bulk(current_search_client, actions, refresh=True)
    migrate(MigrationOptions())
    run_aggregations(end=END)
    return ApiSite(
        communities={name: str(c.id) for name, c in communities.items()},
        slugs={name: c["slug"] for name, c in communities.items()},
        records=records,
        users=users,
    )


@pytest.fixture()
def api(running_app, api_site):
    """``api(method, path, json=None, user=None, headers=None)`` -> response."""
    app = running_app.app

    def _call(method, path, json=None, user=None, headers=None, data=None):
        client = app.test_client()
        headers = dict(headers or {})
        if user is not None:
            api_site.users[user].login(client)
            # a logged-in browser sends the CSRF cookie back as a header, as the page does
            # (a first request after the login gets the session's token)
            client.get("/stats-dashboard/global/top-records")
            headers.setdefault("X-CSRFToken", client.get_cookie("csrftoken").value)
        return client.open(path, method=method, json=json, data=data, headers=headers)

    return _call


def body(query, community_id="global", start="2024-01-01", end=END.isoformat(), **params):
    """A request body of the reference implementation's shape."""
    return {
        query: {
            "stat": query,
            "params": {
                "community_id": community_id,
                "start_date": start,
                "end_date": end,
                **params,
            },
        }
    }
