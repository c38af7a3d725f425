"""``/api/stats-dashboard`` (POST and GET) and ``/api/stats``: every query, format,
permission case and bad input, numbers against a brute force over the fixture truth."""

import gzip
import io
import json
import time
import zipfile
from datetime import date, timedelta
from xml.etree import ElementTree

import brotli
import pytest

from .conftest import END, EVENTS, RECORDS, body

URL = "/stats-dashboard"
RAW = [
    "community-record-delta-created",
    "community-record-delta-published",
    "community-record-delta-added",
    "community-record-snapshot-created",
    "community-record-snapshot-published",
    "community-record-snapshot-added",
    "community-usage-delta",
    "community-usage-snapshot",
]
CATEGORIES = [
    "record-delta-category",
    "record-snapshot-category",
    "usage-delta-category",
    "usage-snapshot-category",
]


# --------------------------------------------------------------------------- brute force
def members(community: str):
    return [s for s in RECORDS if community == "global" or community in s.communities]


def day_range(start: date, end: date) -> list[str]:
    return [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]


def expected_record_deltas(community: str) -> dict[str, dict]:
    """Per day from the community's first record to END: records, files, bytes added."""
    specs = members(community)
    first = min(s.created for s in specs)
    out = {}
    for day in day_range(first, END):
        joined = [s for s in specs if s.created.isoformat() == day]
        out[day] = {
            "records": len(joined),
            "fileCount": sum(len(s.files) for s in joined),
            "dataVolume": sum(sum(s.files.values()) for s in joined),
        }
    return out


def expected_usage(community: str) -> dict[str, dict]:
    """Per day from the community's first event to END: views, downloads, bytes."""
    keys = {s.key for s in members(community)}
    sizes = {s.key: s.files for s in RECORDS}
    events = [e for e in EVENTS if e[0] in keys]
    first = min(e[1] for e in events).date()
    out = {}
    for day in day_range(first, END):
        today = [e for e in events if e[1].date().isoformat() == day]
        out[day] = {
            "views": sum(1 for e in today if e[3] is None),
            "downloads": sum(1 for e in today if e[3] is not None),
            "dataVolume": sum(sizes[e[0]][e[3]] for e in today if e[3] is not None),
        }
    return out


def series_values(result: dict, subcount: str, metric: str, ident: str = "global") -> dict:
    (series,) = [s for s in result[subcount][metric] if s["id"] == ident]
    return dict(series["data"])


def test_snapshot_subcounts_of_short_ranges_are_daily(api, api_site):
    """Up to two months of documents: a subcount point on every day, cumulative counts."""
    response = api("POST", URL, json=body("record-snapshot-category", start="2023-10-01"))
    result = response.json["record-snapshot-category"]
    daily = series_values(result, "global", "records")
    assert max(daily) == END.isoformat()
    for rtype in {s.resource_type for s in RECORDS}:
        points = series_values(result, "resourceTypes", "records", rtype)
        first = min(s.created for s in RECORDS if s.resource_type == rtype)
        assert set(points) == {d for d in daily if d >= first.isoformat()}
        for day, value in points.items():
            created = [s for s in RECORDS if s.resource_type == rtype]
            assert value == sum(1 for s in created if s.created.isoformat() <= day), (rtype, day)


# --------------------------------------------------------------------------- queries
@pytest.mark.parametrize("community", ["open", "closed", "global"])
def test_category_numbers_match_brute_force(api, api_site, community):
    cid = api_site.communities.get(community, "global")
    response = api(
        "POST",
        URL,
        json={
            **body("record-delta-category", cid),
            **body("record-snapshot-category", cid),
            **body("usage-delta-category", cid),
        },
        user="admin",
    )
    assert response.status_code == 200, response.json
    result = response.json
    deltas = expected_record_deltas(community)
    delta = result["record-delta-category"]
    for metric in ("records", "fileCount", "dataVolume"):
        assert series_values(delta, "global", metric) == {d: v[metric] for d, v in deltas.items()}
    snapshot = result["record-snapshot-category"]
    running = {"records": 0, "fileCount": 0, "dataVolume": 0}
    for day, values in deltas.items():
        for metric in running:
            running[metric] += values[metric]
        for metric in running:
            assert series_values(snapshot, "global", metric)[day] == running[metric], (day, metric)
    # subcounts: each resource type's records, from the specs
    for rtype in {s.resource_type for s in members(community)}:
        expected = {
            day: sum(
                1
                for s in members(community)
                if s.resource_type == rtype and s.created.isoformat() == day
            )
            for day in deltas
        }
        # a delta lists a value on the days it changed
        changed = {day: value for day, value in expected.items() if value}
        assert series_values(delta, "resourceTypes", "records", rtype) == changed
    with_files = series_values(snapshot, "filePresence", "records", "with_files")[END.isoformat()]
    assert with_files == sum(1 for s in members(community) if s.files)
    usage = result["usage-delta-category"]
    for metric, values in (
        ("views", "views"),
        ("downloads", "downloads"),
        ("dataVolume", "dataVolume"),
    ):
        expected = {d: v[values] for d, v in expected_usage(community).items()}
        assert series_values(usage, "global", metric) == expected, metric


def test_every_query_type_by_post_and_get(api, api_site):
    cid = api_site.communities["open"]
    requests = {}
    for name in [*RAW, "community-stats", "global-stats", *CATEGORIES]:
        requests.update(body(name, cid))
    response = api("POST", URL, json=requests, user="owner")
    assert response.status_code == 200, response.json
    result = response.json
    assert sorted(result) == sorted(requests)
    for name in RAW:
        documents = result[name]
        assert documents and all(doc["community_id"] == cid for doc in documents), name
        days = [(doc.get("snapshot_date") or doc["period_start"])[:10] for doc in documents]
        assert days == sorted(days) and days[-1] == END.isoformat()
    assert sorted(result["community-stats"]) == sorted(RAW)
    for name in CATEGORIES:
        assert "global" in result[name]
    # GET, for scripts and browsers: same answer, slug in the path
    response = api(
        "GET",
        f"{URL}/{api_site.slugs['open']}/record-delta-category"
        f"?start_date=2024-01-01&end_date={END.isoformat()}",
        user="owner",
    )
    assert response.status_code == 200
    assert response.json == {"record-delta-category": result["record-delta-category"]}


def test_end_date_and_date_basis_are_honoured(api, api_site):
    cid = api_site.communities["open"]
    response = api(
        "POST",
        URL,
        json={
            "added": body("record-delta-category", cid, start="2024-01-04", end="2024-01-06")[
                "record-delta-category"
            ],
            "published": body(
                "record-delta-category",
                cid,
                start="2024-01-04",
                end="2024-01-06",
                date_basis="published",
            )["record-delta-category"],
        },
        user="owner",
    )
    assert response.status_code == 200
    added = series_values(response.json["added"], "global", "records")
    assert added == {"2024-01-04": 0, "2024-01-05": 1, "2024-01-06": 0}
    # the fixtures' publication date is 2020-06-01: nothing is published in the range
    published = series_values(response.json["published"], "global", "records")
    assert published == {"2024-01-04": 0, "2024-01-05": 0, "2024-01-06": 0}


def test_reference_request_bodies_and_keys_the_dashboard_reads(api, api_site):
    """The reference dashboard's requests, and every key it reads, with their types."""
    params = {
        "community_id": "global",
        "date_basis": "added",
        "start_date": "2024-01-01",
        "end_date": END.isoformat(),
    }
    for query in (
        "usage-snapshot-category",
        "usage-delta-category",
        "record-snapshot-category",
        "record-delta-category",
    ):
        response = api(
            "POST",
            URL,
            json={query: {"stat": query, "params": params}},
            headers={"Accept": "application/json"},
        )
        assert response.status_code == 200, response.json
        result = response.json[query]
        expected_keys = {
            "record-delta-category": (
                [
                    "global",
                    "resourceTypes",
                    "accessStatuses",
                    "languages",
                    "subjects",
                    "rights",
                    "funders",
                    "periodicals",
                    "publishers",
                    "affiliations",
                    "fileTypes",
                    "filePresence",
                ],
                {
                    "global": ["records", "fileCount", "dataVolume", "parents", "uploaders"],
                    "*": ["records", "fileCount", "dataVolume", "parents"],
                },
            ),
            "record-snapshot-category": (
                [
                    "global",
                    "resourceTypes",
                    "accessStatuses",
                    "languages",
                    "fileTypes",
                    "filePresence",
                ],
                {
                    "global": ["records", "parents", "uploaders", "fileCount", "dataVolume"],
                    "*": ["records", "parents", "fileCount", "dataVolume"],
                },
            ),
            "usage-delta-category": (
                [
                    "global",
                    "resourceTypes",
                    "accessStatuses",
                    "languages",
                    "rights",
                    "funders",
                    "periodicals",
                    "publishers",
                    "affiliations",
                    "countries",
                    "fileTypes",
                ],
                {
                    "*": [
                        "views",
                        "downloads",
                        "viewVisitors",
                        "downloadVisitors",
                        "dataVolume",
                        "viewUniqueRecords",
                        "viewUniqueParents",
                        "downloadUniqueRecords",
                        "downloadUniqueParents",
                        "downloadUniqueFiles",
                    ]
                },
            ),
            "usage-snapshot-category": (
                [
                    "global",
                    "resourceTypes",
                    "accessStatuses",
                    "fileTypes",
                    "languagesByView",
                    "languagesByDownload",
                    "countriesByView",
                    "countriesByDownload",
                    "publishersByView",
                    "affiliationsByDownload",
                ],
                {"*": ["views", "downloads", "viewVisitors", "downloadVisitors", "dataVolume"]},
            ),
        }[query]
        subcounts, metrics = expected_keys
        for subcount in subcounts:
            assert subcount in result, (query, subcount)
            for metric in metrics.get(subcount, metrics.get("*")):
                series_list = result[subcount][metric]
                assert isinstance(series_list, list), (query, subcount, metric)
                for series in series_list:
                    assert isinstance(series["id"], str) and isinstance(series["name"], str)
                    assert series["type"] in ("bar", "line")
                    assert series["valueType"] in ("number", "filesize")
                    for day, value in series["data"]:
                        assert date.fromisoformat(day) and isinstance(value, int | float)
        assert (
            result["global"][next(iter(metrics.get("global", metrics.get("*"))))][0]["id"]
            == "global"
        )
    # invenio-stats' own endpoint serves the same queries (the reference's test body)
    response = api(
        "POST",
        "/stats",
        json={
            "community-stats": {
                "stat": "community-record-delta-added",
                "params": {
                    "community_id": "global",
                    "start_date": "2024-01-01",
                    "end_date": "2024-01-02",
                },
            }
        },
    )
    assert response.status_code == 200, response.json
    assert isinstance(response.json["community-stats"], list)


# --------------------------------------------------------------------------- formats
def test_formats_and_compression(api, api_site):
    slug = api_site.slugs["open"]
    cid = api_site.communities["open"]
    one = body("record-delta-category", cid)
    json_body = api("POST", URL, json=one, user="owner").json

    csv_response = api("POST", URL, json=one, user="owner", headers={"Accept": "text/csv"})
    assert csv_response.status_code == 200
    assert csv_response.content_type.startswith("text/csv")
    assert (
        f'filename="stats-{slug}-2024-01-01-{END.isoformat()}.csv"'
        in csv_response.headers["Content-Disposition"]
    )
    lines = csv_response.data.decode().splitlines()
    assert lines[0] == "subcount,metric,id,name,date,value,value_type"
    assert "global,records,global,Global,2024-01-03,1,number" in lines  # full dates
    points = sum(
        len(s["data"])
        for m in json_body["record-delta-category"].values()
        for ss in m.values()
        for s in ss
    )
    assert len(lines) - 1 == points

    several = {**one, **body("community-usage-delta", cid)}
    zipped = api("POST", URL, json=several, user="owner", headers={"Accept": "text/csv"})
    assert zipped.content_type == "application/zip"
    with zipfile.ZipFile(io.BytesIO(zipped.data)) as archive:
        assert sorted(archive.namelist()) == [
            "community-usage-delta.csv",
            "record-delta-category.csv",
        ]
        usage = archive.read("community-usage-delta.csv").decode().splitlines()
        assert usage[0].startswith("date,community_id,") and usage[1].startswith("2024-01-10,")

    xlsx = api(
        "POST",
        URL,
        json=several,
        user="owner",
        headers={"Accept": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    )
    assert xlsx.status_code == 200
    with zipfile.ZipFile(io.BytesIO(xlsx.data)) as workbook:
        sheets = [n for n in workbook.namelist() if n.startswith("xl/worksheets/sheet")]
        assert len(sheets) == 2

    xml = api("POST", URL, json=one, user="owner", headers={"Accept": "application/xml"})
    root = ElementTree.fromstring(xml.data)
    assert root.tag == "stats" and root.find("query").get("name") == "record-delta-category"

    raw = api("POST", URL, json=one, user="owner").data
    for encoding, decompress in (("gzip", gzip.decompress), ("br", brotli.decompress)):
        response = api("POST", URL, json=one, user="owner", headers={"Accept-Encoding": encoding})
        assert response.headers["Content-Encoding"] == encoding
        assert len(response.data) < len(raw)
        assert decompress(response.data) == raw
    assert json.loads(raw) == json_body

    refused = api("POST", URL, json=one, headers={"Accept": "image/png"})
    assert refused.status_code == 406 and "Accept one of" in refused.json["message"]


def test_etag_and_cache_headers(api, api_site):
    one = body("usage-delta-category", "global")
    first = api("POST", URL, json=one)
    assert first.status_code == 200
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"].startswith("public, max-age=")
    again = api("POST", URL, json=one, headers={"If-None-Match": etag})
    assert again.status_code == 304 and not again.data
    # a cached answer keeps the moment it was computed
    time.sleep(1.1)
    cached = api("POST", URL, json=one)
    assert cached.headers["Last-Modified"] == first.headers["Last-Modified"]
    assert cached.headers["ETag"] == etag
    closed = api(
        "POST", URL, json=body("usage-delta-category", api_site.communities["closed"]), user="owner"
    )
    assert closed.headers["Cache-Control"].startswith("private, max-age=")


# --------------------------------------------------------------------------- permissions
@pytest.mark.parametrize(
    ("community", "user", "status"),
    [
        ("global", None, 200),
        ("global", "outsider", 200),
        ("open", None, 200),
        ("open", "outsider", 200),
        ("open", "owner", 200),
        ("closed", None, 401),
        ("closed", "outsider", 403),
        ("closed", "owner", 200),
        ("closed", "admin", 200),
    ],
)
def test_permissions_on_every_endpoint(api, api_site, community, user, status):
    cid = api_site.communities.get(community, "global")
    post = api("POST", URL, json=body("record-snapshot-category", cid), user=user)
    assert post.status_code == status, post.json
    slug = api_site.slugs.get(community, "global")
    get = api("GET", f"{URL}/{slug}/community-usage-snapshot", user=user)
    assert get.status_code == status
    stats = api("POST", "/stats", json=body("record-snapshot-category", cid), user=user)
    assert stats.status_code == status
    if status != 200:
        assert "message" in post.json and "global" not in post.json


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("payload", "status", "message"),
    [
        (body("no-such-query"), 400, "valid queries: community-record-delta-created"),
        (
            {"q": {"stat": "usage-delta-category", "params": {"community": "x"}}},
            400,
            "Unknown parameter(s) for query 'usage-delta-category': community",
        ),
        (body("usage-delta-category", start="2024-13-01"), 400, "start_date must be a day"),
        (body("usage-delta-category", start="2024-02-01", end="2024-01-01"), 400, "is after"),
        (body("usage-delta-category", "no-such-community"), 404, "Community not found"),
        (body("usage-delta-category", start="1900-01-01"), 400, "COMMUNITY_STATS_API_MAX_DAYS"),
        (body("usage-delta-category", date_basis="modified"), 400, "date_basis must be one of"),
        ({}, 400, "The body must be"),
        ({"q": "usage-delta-category"}, 400, "must be {"),
    ],
)
def test_bad_input_gets_a_json_error(api, payload, status, message):
    response = api("POST", URL, json=payload)
    assert response.status_code == status
    assert response.json["status"] == status
    assert message in response.json["message"]


def test_body_that_is_not_json_and_switched_off_stats(api, running_app):
    response = api("POST", URL, data=b"{not json", headers={"Content-Type": "application/json"})
    assert (
        response.status_code == 400 and response.json["message"] == "The request body is not JSON"
    )
    app = running_app.app
    app.config["COMMUNITY_STATS_ENABLED"] = False
    try:
        response = api("POST", URL, json=body("usage-delta-category"))
        get = api("GET", f"{URL}/global/usage-delta-category")
    finally:
        app.config["COMMUNITY_STATS_ENABLED"] = True
    assert response.status_code == get.status_code == 503
    assert "COMMUNITY_STATS_ENABLED is False" in response.json["message"]
