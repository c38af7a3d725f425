"""Benchmark: ``invenio importer update_created_dates`` on a synthetic migrated site.

    .venv/bin/python benchmarks/update_created_dates.py [--records 5000] [--communities 200]

Starts its own osmem-server (or uses INVENIO_SEARCH_HOSTS) and recreates the PostgreSQL
database ``invenio_bench_importer`` (``SQLALCHEMY_DATABASE_URI`` overrides it). The site:

- ``--communities`` communities created through the communities service, each a former
  Commons group (``kcr:commons_group_id`` "g1", "g2", ...), created "today";
- ``--templates`` records published through the records service with the Knowledge
  Commons fields, then copied in bulk to ``--records`` records: one database row and one
  parent per record (the rows the service writes) and one index document each (the
  template's indexed document with its own ids, ``created``, legacy date and groups).
  Every record has a legacy creation date (a few with offsets or date only, 1% not a
  date) and belongs to 1-3 groups, with look-alike ids ("1g1", "g1-b") mixed in.

Then it runs the two halves of the repair as the command does (``RecordsHelper`` /
``CommunitiesHelper``), twice: with the configured delays set to 0 and with the defaults
(1 s between batches of 100), putting the site back between the runs. It prints
records/min, communities/min, search requests per community, and peak memory, and checks
the results against the site it built (a wrong number fails the benchmark).
"""

from __future__ import annotations

import argparse
import copy
import logging
import random
import time
import uuid
from datetime import UTC, datetime, timedelta

from common import count_requests, make_app, peak_rss_mb, running_engine

from invenio_stats_dashboard.core.indices import record_class_alias, refresh_record_classes

MIGRATED = datetime(2024, 5, 1, 12, tzinfo=UTC)
DATABASE = "invenio_bench_importer"


def site_config() -> dict:
    """KC custom fields, and the embedded engine's settings (as the tests use)."""
    from invenio_record_importer_kcworks.custom_fields import kc_custom_fields_config
    from invenio_stats_dashboard.demo.config import embedded_engine_config

    return {
        **kc_custom_fields_config(),
        **embedded_engine_config(),
        "DATACITE_ENABLED": False,
        "RDM_USER_MODERATION_ENABLED": False,
        "SITE_UI_URL": "https://127.0.0.1:5000",
        "SITE_API_URL": "https://127.0.0.1:5000/api",
    }


def init_site(app) -> None:
    """A fresh database, every index and template, custom fields, vocabularies, location."""
    from invenio_db import db
    from invenio_files_rest.models import Location
    from invenio_search import current_search
    from sqlalchemy_utils import create_database, database_exists, drop_database

    from invenio_record_importer_kcworks.custom_fields import put_custom_field_mappings
    from invenio_stats_dashboard.demo.vocabularies import load_minimal_vocabularies

    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    db.session.remove()
    db.engine.dispose()
    if database_exists(uri):
        drop_database(uri)
    create_database(uri)
    db.create_all()
    list(current_search.delete(ignore=[404]))
    for put in (
        current_search.put_templates,
        current_search.put_component_templates,
        current_search.put_index_templates,
    ):
        list(put())
    list(current_search.create(ignore_existing=True))
    put_custom_field_mappings()
    db.session.add(Location(name="bench", uri="/tmp/bench-importer-files", default=True))
    db.session.commit()
    load_minimal_vocabularies()


def legacy_value(rng: random.Random, moment: datetime, index: int) -> str:
    """A legacy creation date in the shapes seen on the live site (1% unparseable)."""
    if index % 100 == 99:
        return rng.choice(["", "03/08/2017", "2017/2018", "2017-02-30"])
    if index % 10 == 1:
        return moment.strftime("%Y-%m-%d")
    if index % 10 == 2:
        return (moment + timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%S+05:00")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def build_site(args) -> dict:
    """Communities and templates through the services, then bulk copies of the templates."""
    from invenio_access.permissions import system_identity
    from invenio_db import db
    from invenio_rdm_records.records.api import RDMRecord
    from invenio_rdm_records.records.models import RDMParentMetadata, RDMRecordMetadata
    from invenio_search import current_search_client
    from invenio_search.engine import search

    from invenio_stats_dashboard.demo.factories import (
        RecordSpec,
        create_community,
        create_user,
        default_metadata,
        publish_record,
    )

    rng = random.Random(args.seed)
    began = time.monotonic()
    owner = create_user("bench-importer@example.org")
    groups = [f"g{n}" for n in range(1, args.communities + 1)]
    for group in groups:
        create_community(
            system_identity,
            f"group-{group}",
            custom_fields={"kcr:commons_group_id": group, "kcr:commons_group_name": group},
        )
    templates = [
        publish_record(owner, RecordSpec(metadata=default_metadata(f"Template {n}")))
        for n in range(args.templates)
    ]
    refresh_record_classes(RDMRecord)
    hits = current_search_client.search(
        index=record_class_alias(RDMRecord),
        body={"query": {"ids": {"values": [str(t.id) for t in templates]}}},
    )["hits"]["hits"]
    docs = {hit["_id"]: hit for hit in hits}
    service_seconds = time.monotonic() - began

    expected = {"records": 0, "invalid": 0, "oldest": {}}
    parents, rows, actions = [], [], []
    now = datetime.now(UTC)
    for index in range(args.records):
        template = templates[index % len(templates)]
        hit = docs[str(template.id)]
        record_id, parent_id = str(uuid.uuid4()), str(uuid.uuid4())
        legacy_moment = datetime(2012, 1, 1, tzinfo=UTC) + timedelta(
            seconds=rng.randrange(12 * 365 * 86400)
        )
        value = legacy_value(rng, legacy_moment, index)
        chosen = rng.sample(groups, rng.randint(1, 3))
        deposit = [{"group_identifier": g, "group_name": g} for g in chosen]
        deposit += [{"group_identifier": f"1{chosen[0]}", "group_name": "look-alike"}]
        if index % 7 == 0:
            deposit.append({"group_identifier": f"{chosen[0]}-b", "group_name": "look-alike"})
        custom_fields = {
            "hclegacy:record_creation_date": value,
            "hclegacy:groups_for_deposit": deposit,
        }
        if index % 100 == 99:
            expected["invalid"] += 1
        else:
            expected["records"] += 1
            instant = (
                legacy_moment
                if index % 10 != 1
                else legacy_moment.replace(hour=0, minute=0, second=0)
            )
            day = instant.replace(hour=0, minute=0, second=0)
            for group in chosen:
                expected["oldest"][group] = min(expected["oldest"].get(group, day), day)
        parent_json = copy.deepcopy(template.parent.model.json)
        parent_json["id"] = parent_id
        parents.append(
            {"id": parent_id, "json": parent_json, "version_id": 1, "created": now, "updated": now}
        )
        record_json = copy.deepcopy(template.model.json)
        record_json.update(id=record_id, custom_fields=custom_fields)
        record_json["parent"] = {"id": parent_id}
        rows.append(
            {
                "id": record_id,
                "json": record_json,
                "version_id": 1,
                "created": MIGRATED,
                "updated": now,
                "index": 1,
                "parent_id": parent_id,
                "deletion_status": "P",
            }
        )
        source = copy.deepcopy(hit["_source"])
        source.update(
            uuid=record_id,
            id=f"bench-{index}",
            created=MIGRATED.isoformat(),
            version_id=1,
            custom_fields=custom_fields,
        )
        source["parent"] = {**source["parent"], "uuid": parent_id, "id": f"bench-p-{index}"}
        actions.append(
            {
                "_index": hit["_index"],
                "_id": record_id,
                "_version": 0,  # revision_id = version_id - 1, as the indexer sends
                "_version_type": "external_gte",
                "_source": source,
            }
        )
    for chunk in range(0, len(rows), 1000):
        db.session.execute(RDMParentMetadata.__table__.insert(), parents[chunk : chunk + 1000])
        db.session.execute(RDMRecordMetadata.__table__.insert(), rows[chunk : chunk + 1000])
    db.session.commit()
    search.helpers.bulk(current_search_client, actions, chunk_size=1000)
    refresh_record_classes(RDMRecord)
    expected["groups"] = groups
    expected["templates"] = len(templates)
    return {
        "expected": expected,
        "record_ids": [row["id"] for row in rows],
        "actions": actions,
        "service_seconds": service_seconds,
        "seconds": time.monotonic() - began,
    }


def reset_site(site: dict) -> None:
    """Put every copied record and every community back to its migrated ``created``."""
    from invenio_communities.communities.records.api import Community
    from invenio_communities.communities.records.models import CommunityMetadata
    from invenio_communities.proxies import current_communities
    from invenio_db import db
    from invenio_rdm_records.records.api import RDMRecord
    from invenio_rdm_records.records.models import RDMRecordMetadata
    from invenio_search import current_search_client
    from invenio_search.engine import search

    table = RDMRecordMetadata.__table__
    db.session.execute(
        table.update().where(table.c.id.in_(site["record_ids"])).values(created=MIGRATED)
    )
    now = datetime.now(UTC)
    db.session.execute(CommunityMetadata.__table__.update().values(created=now))
    db.session.commit()
    search.helpers.bulk(current_search_client, site["actions"], chunk_size=1000)
    for community in CommunityMetadata.query.all():
        current_communities.service.indexer.index(Community(community.json, model=community))
    refresh_record_classes(Community)
    refresh_record_classes(RDMRecord)


def check(site: dict, records: dict, communities: dict) -> None:
    """Compare the run's counts and the stored dates with the site's own expectation."""
    from invenio_communities.communities.records.models import CommunityMetadata

    expected = site["expected"]
    assert records["updated"] == expected["records"], records["updated"]
    assert len(records["errors"]) == expected["invalid"], len(records["errors"])
    assert communities["updated"] == len(expected["oldest"]), communities["updated"]
    for community in CommunityMetadata.query.all():
        group = community.json["custom_fields"]["kcr:commons_group_id"]
        if group in expected["oldest"]:
            stored = community.created.astimezone(UTC)
            assert stored == expected["oldest"][group], (group, stored)


def timed_run(site: dict, delays: bool) -> dict:
    """Both halves, timed separately, with search requests counted."""
    from flask import current_app
    from invenio_search import current_search_client

    from invenio_record_importer_kcworks.services import CommunitiesHelper, RecordsHelper

    current_app.config["RECORD_IMPORTER_BATCH_DELAY"] = 1.0 if delays else 0
    from invenio_stats_dashboard.core.engine import search_client

    counter = count_requests(current_search_client, search_client)
    began = time.monotonic()
    records = RecordsHelper().update_record_created_dates()
    record_seconds = time.monotonic() - began
    record_requests, counter["requests"] = counter["requests"], 0
    began = time.monotonic()
    communities = CommunitiesHelper().update_community_created_dates()
    community_seconds = time.monotonic() - began
    if records["errors"] and records["updated"] == 0:
        print(records["errors"][:3])
    check(site, records, communities)
    total = records["total_found"]
    return {
        "records": total,
        "record_seconds": record_seconds,
        "records_per_min": 60 * total / record_seconds,
        "record_requests": record_requests,
        "communities": communities["total_found"],
        "community_seconds": community_seconds,
        "communities_per_min": 60 * communities["total_found"] / community_seconds,
        "community_requests": counter["requests"],
    }


def report(label: str, result: dict) -> None:
    """One block of figures."""
    print(f"\n{label}")
    print(
        f"  records:     {result['records']:>6} in {result['record_seconds']:7.1f} s  "
        f"{result['records_per_min']:>9,.0f} records/min  "
        f"{result['record_requests'] / result['records']:.3f} search requests/record"
    )
    per_community = result["community_requests"] / max(result["communities"], 1)
    print(
        f"  communities: {result['communities']:>6} in {result['community_seconds']:7.1f} s  "
        f"{result['communities_per_min']:>9,.0f} communities/min  "
        f"{result['community_requests']} search requests ({per_community:.3f}/community)"
    )


def main() -> None:
    """Build the site, run the repair with delays 0 and with the defaults, print figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--communities", type=int, default=200)
    parser.add_argument("--templates", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with running_engine() as hosts:
        app = make_app(hosts, DATABASE, 8, **site_config())
        app.logger.setLevel(logging.CRITICAL)
        with app.app_context():
            init_site(app)
            site = build_site(args)
            print(
                f"site: {args.records} records ({args.templates} published through the service, "
                f"in {site['service_seconds']:.0f} s with {args.communities} communities), "
                f"built in {site['seconds']:.0f} s"
            )
            report("delays 0 (RECORD_IMPORTER_BATCH_DELAY=0)", timed_run(site, delays=False))
            reset_site(site)
            report("default delays (1 s between batches of 100)", timed_run(site, delays=True))
            print(f"\npeak memory: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
