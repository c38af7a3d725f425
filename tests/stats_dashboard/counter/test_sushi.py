"""COUNTER R5.1 over SUSHI: a real harvester (celus-nigiri) against the API app served on
loopback; every response checked against the official OpenAPI document's schemas; the
numbers against COUNTER's rules applied to the fixture's raw events by brute force."""

import copy
import json
import os
import tempfile
from collections import defaultdict
from datetime import date
from pathlib import Path

import jsonschema
import pytest
from celus_nigiri.client import Sushi51Client
from invenio_app.factory import create_api
from werkzeug.exceptions import NotFound
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from invenio_stats_dashboard.demo.serve import LOOPBACK_HTTP

from ..loopback import served
from .conftest import DATA_TYPES, ORCID, RECORDS, expected_usage

ROOT = Path(__file__).resolve().parents[3]
SPEC_PLACES = [
    os.environ.get("COUNTER_API_SPEC", ""),
    str(ROOT.parent / "shared" / "reference" / "counter" / "COUNTER_API_r51.json"),
    "/work/shared/reference/counter/COUNTER_API_r51.json",
]
MONTHS = ("2024-01", "2024-02", "2024-03")
METRICS = (
    "Total_Item_Investigations",
    "Unique_Item_Investigations",
    "Total_Item_Requests",
    "Unique_Item_Requests",
)
CUSTOMER = {"customer_id": "anyone"}
LIBRARY = {"customer_id": "library-1", "requestor_id": "harvester-1", "api_key": "secret-key"}


# --------------------------------------------------------------------------- schemas
@pytest.fixture(scope="module")
def spec():
    """The official COUNTER_SUSHI OpenAPI document (used where it lies, never copied)."""
    path = next((p for p in SPEC_PLACES if p and Path(p).is_file()), None)
    if path is None:
        pytest.skip(
            f"COUNTER_API_r51.json not found (set COUNTER_API_SPEC); looked in {SPEC_PLACES}"
        )
    return json.loads(Path(path).read_text())


def check(spec, ref: str, body) -> None:
    """Validate against ``#/components/schemas/<ref>`` or a response's schema."""
    root = copy.deepcopy(spec)
    root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    if ref.startswith("response:"):
        schema = spec["components"]["responses"][ref.split(":", 1)[1]]
        root.update(schema["content"]["application/json"]["schema"])
    else:
        root["$ref"] = f"#/components/schemas/{ref}"
    validator = jsonschema.Draft202012Validator(root, format_checker=jsonschema.FormatChecker())
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]
    assert not errors, (ref, errors[:5], json.dumps(body)[:800])


# --------------------------------------------------------------------------- clients
@pytest.fixture()
def sushi(running_app, counter_site):
    """``sushi(path, community=None, user=None, **params)`` -> (status, body) via Flask."""
    app = running_app.app

    def _get(path, community=None, user=None, **params):
        client = app.test_client()
        if user is not None:
            counter_site.users[user].login(client)
        base = f"/counter/{community}" if community else "/counter"
        response = client.get(f"{base}/r51/{path}", query_string=params)
        return response.status_code, response.json

    return _get


@pytest.fixture(scope="module")
def harvest_url(app_config, counter_site):
    """The API app under ``/api`` on a loopback HTTP server."""
    api = create_api(**{**app_config, "SERVER_NAME": None, "TRUSTED_HOSTS": None, **LOOPBACK_HTTP})
    with served(DispatcherMiddleware(NotFound(), {"/api": api})) as url:
        yield f"{url}/api/counter"


def harvest(url: str, report: str, customer=CUSTOMER) -> list:
    """Records celus-nigiri parses from a report of 2024-01..2024-03."""
    extra = {k: v for k, v in customer.items() if k not in ("customer_id", "requestor_id")}
    client = Sushi51Client(
        url,
        customer.get("customer_id"),
        requestor_id=customer.get("requestor_id"),
        extra_params=extra or None,
    )
    with tempfile.TemporaryFile("w+b") as fd:
        data = client.get_report_data(report, "2024-01", "2024-03", output_content=fd)
        assert not data.errors, [str(e) for e in data.errors]
        header, items = data.fd_to_dicts(fd)
        return list(data.read_report(header, items))


def expected_items(community: str) -> dict[tuple, int]:
    """``(record, access method, month, metric) -> n`` of one community."""
    out = {}
    for (cid, record, method, month), metrics in expected_usage().items():
        if cid == community:
            for metric, value in metrics.items():
                if value:
                    out[(record, method, month, metric)] = value
    return out


def expected_platform(community: str) -> dict[tuple, int]:
    """``(data type, access method, month, metric) -> n`` of one community."""
    out: dict = defaultdict(int)
    for (record, method, month, metric), value in expected_items(community).items():
        out[(DATA_TYPES[record], method, month, metric)] += value
    return dict(out)


# --------------------------------------------------------------------------- tests
@pytest.mark.parametrize("community", ["global", "open"])
def test_a_harvester_gets_the_counter_numbers(counter_site, harvest_url, community):
    url = harvest_url if community == "global" else f"{harvest_url}/counter-open"
    titles = {title: key for key, title in counter_site.titles.items()}
    items = defaultdict(int)
    for record in harvest(url, "ir"):
        method = record.dimension_data["Access_Method"]
        key = (titles[record.item], method, record.start.strftime("%Y-%m"), record.metric)
        items[key] += record.value
    assert dict(items) == expected_items(community)
    platform = defaultdict(int)
    for record in harvest(url, "pr"):
        dims = record.dimension_data
        key = (dims["Data_Type"], dims["Access_Method"], record.start.strftime("%Y-%m"))
        platform[(*key, record.metric)] += record.value
    assert dict(platform) == expected_platform(community)


def test_a_restricted_community_needs_its_customer_or_a_member(counter_site, harvest_url, sushi):
    params = {"begin_date": "2024-01", "end_date": "2024-03", **CUSTOMER}
    status, body = sushi("reports/ir", community="counter-closed", **params)
    assert status == 403 and body["Code"] == 2010
    status, body = sushi("reports/ir", community="counter-closed", user="outsider", **params)
    assert status == 403 and body["Code"] == 2010
    status, body = sushi("reports/ir", community="counter-closed", user="owner", **params)
    assert status == 200, body
    # the named customer listing the community harvests it over HTTP
    items = defaultdict(int)
    titles = {title: key for key, title in counter_site.titles.items()}
    for record in harvest(f"{harvest_url}/counter-closed", "ir", customer=LIBRARY):
        key = (titles[record.item], record.dimension_data["Access_Method"])
        items[(*key, record.start.strftime("%Y-%m"), record.metric)] += record.value
    assert dict(items) == expected_items("closed")


def test_every_response_validates_against_the_official_schema(spec, sushi):
    check(spec, "response:200_Status", sushi("status")[1])
    check(spec, "response:200_Status", sushi("status", community="counter-open")[1])
    for path, ref in (("members", "response:200_Members"), ("reports", "response:200_Reports")):
        status, body = sushi(path, **CUSTOMER)
        assert status == 200
        check(spec, ref, body)
    period = {"begin_date": "2024-01", "end_date": "2024-03", **CUSTOMER}
    variants = {
        "pr": [{}, {"attributes_to_show": "Access_Method"}, {"granularity": "Total"}],
        "pr_p1": [{}],
        "ir": [
            {},
            {
                "attributes_to_show": "Authors|Publication_Date|YOP|Access_Method|Access_Type",
                "include_parent_details": "True",
            },
            {"granularity": "Total", "data_type": "Dataset|Article"},
        ],
        "ir_a1": [{}],
        "ir_m1": [{}],
    }
    for report, options in variants.items():
        for community in (None, "counter-open"):
            for extra in options:
                status, body = sushi(f"reports/{report}", community=community, **period, **extra)
                assert status == 200, body
                check(spec, report.upper(), body)


def test_reports_shapes_and_fixed_views(sushi):
    period = {"begin_date": "2024-01-01", "end_date": "2024-03-31", **CUSTOMER}
    _, ir = sushi(
        "reports/ir",
        **period,
        attributes_to_show="Authors|YOP|Access_Method",
        include_parent_details="True",
    )
    header = ir["Report_Header"]
    assert header["Release"] == "5.1" and header["Institution_Name"] == "The World"
    assert header["Report_Filters"] == {"Begin_Date": "2024-01-01", "End_Date": "2024-03-31"}
    assert header["Report_Attributes"]["Include_Parent_Details"] == "True"
    (journal,) = [group for group in ir["Report_Items"] if "Item_ID" in group]
    assert journal["Item_ID"] == {"Online_ISSN": "1234-5679"}
    (paper,) = journal["Items"]
    assert paper["Authors"] == [{"Name": "Doe, Jane", "ORCID": ORCID}]
    assert paper["Item_ID"]["Proprietary"].startswith("testrepo:")
    assert {p["Access_Method"] for p in paper["Attribute_Performance"]} == {"Regular", "TDM"}
    # IR_A1: the article's Regular requests only
    _, a1 = sushi("reports/ir_a1", **period)
    assert a1["Report_Header"]["Report_Filters"]["Data_Type"] == ["Article"]
    (group,) = a1["Report_Items"]
    (item,) = group["Items"]
    regular = {
        key: value
        for key, value in expected_items("global").items()
        if key[0] == "paper" and key[1] == "Regular" and "Requests" in key[3]
    }
    performance = item["Attribute_Performance"][0]["Performance"]
    assert {
        ("paper", "Regular", month, metric): n
        for metric, counts in performance.items()
        for month, n in counts.items()
    } == regular
    # IR_M1: the photo
    _, m1 = sushi("reports/ir_m1", **period)
    assert [i["Item"] for g in m1["Report_Items"] for i in g["Items"]] == ["The photo record"]
    # granularity Total: one sum under the first month
    _, total = sushi("reports/pr", **period, granularity="Total")
    for row in total["Report_Items"][0]["Attribute_Performance"]:
        for counts in row["Performance"].values():
            assert list(counts) == ["2024-01"]
    expected = sum(v for k, v in expected_platform("global").items() if k[3] == METRICS[0])
    got = sum(
        row["Performance"][METRICS[0]]["2024-01"]
        for row in total["Report_Items"][0]["Attribute_Performance"]
    )
    assert got == expected


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"begin_date": "2024-01", "end_date": "2024-03"}, 400, 1030),
        ({"customer_id": "x", "end_date": "2024-03"}, 400, 1030),
        ({"customer_id": "x", "begin_date": "2024-13", "end_date": "2024-14"}, 400, 3020),
        ({"customer_id": "x", "begin_date": "2024-03", "end_date": "2024-01"}, 400, 3020),
        ({"customer_id": "x", "begin_date": "2999-01", "end_date": "2999-02"}, 400, 3020),
        (
            {
                "customer_id": "x",
                "begin_date": "2024-01",
                "end_date": "2024-02",
                "platform": "Other",
            },
            400,
            1030,
        ),
        (
            {**LIBRARY, "api_key": "wrong", "begin_date": "2024-01", "end_date": "2024-02"},
            401,
            2020,
        ),
        (
            {**LIBRARY, "requestor_id": "someone", "begin_date": "2024-01", "end_date": "2024-02"},
            401,
            2000,
        ),
    ],
)
def test_fatal_errors_are_counter_exceptions(spec, sushi, params, status, code):
    got_status, body = sushi("reports/pr", **params)
    assert (got_status, body["Code"]) == (status, code), body
    responses = {400: "400_Exception", 401: "401_Exception", 403: "403_Exception"}
    check(spec, f"response:{responses[status]}", body)


def test_closed_customer_list_and_unknown_paths(running_app, sushi):
    app = running_app.app
    app.config["COMMUNITY_STATS_COUNTER_OPEN"] = False
    try:
        status, body = sushi("reports/pr", begin_date="2024-01", end_date="2024-02", **CUSTOMER)
        assert (status, body["Code"]) == (403, 2010)
        status, _ = sushi("reports/pr", begin_date="2024-01", end_date="2024-02", **LIBRARY)
        assert status == 200
    finally:
        app.config["COMMUNITY_STATS_COUNTER_OPEN"] = True
    status, body = sushi("reports/tr", begin_date="2024-01", end_date="2024-02", **CUSTOMER)
    assert status == 404 and body["Code"] == 1030 and "pr_p1" in body["Data"]
    status, body = sushi(
        "reports/pr",
        community="no-such-community",
        begin_date="2024-01",
        end_date="2024-02",
        **CUSTOMER,
    )
    assert status == 404 and body["Code"] == 1030
    # the status is public and says how far usage is counted
    status, body = sushi("status")
    assert status == 200 and body[0]["Service_Active"] is True and "2024-03-31" in body[0]["Note"]


def test_warnings_ride_in_the_header(spec, sushi):
    period = {"begin_date": "2024-01", "end_date": "2024-03", **CUSTOMER}
    cases = [
        ({"foo": "1"}, 3050),
        ({"country_code": "US"}, 3050),
        ({"metric_type": "Total_Item_Requests|Bogus"}, 3060),
        ({"attributes_to_show": "Nope"}, 3062),
        ({"granularity": "Weekly"}, 3062),
        ({"include_component_details": "True"}, 3063),
    ]
    for params, code in cases:
        status, body = sushi("reports/ir", **period, **params)
        assert status == 200
        assert code in [e["Code"] for e in body["Report_Header"]["Exceptions"]], (params, body)
        check(spec, "IR", body)
    # a lone PR metric brings its partner (a PR row holds two metrics)
    status, body = sushi("reports/pr", **period, metric_type="Total_Item_Requests")
    assert 3060 in [e["Code"] for e in body["Report_Header"]["Exceptions"]]
    check(spec, "PR", body)
    # no usage in the range: 3030 and no items
    status, body = sushi("reports/pr", begin_date="2023-01", end_date="2023-02", **CUSTOMER)
    assert status == 200 and body["Report_Items"] == []
    assert [e["Code"] for e in body["Report_Header"]["Exceptions"]] == [3030]
    check(spec, "PR", body)
    # a range reaching the current month: clamped, 3031
    today = date.today()
    status, body = sushi(
        "reports/pr", begin_date="2024-01", end_date=today.isoformat()[:7], **CUSTOMER
    )
    assert status == 200
    assert 3031 in [e["Code"] for e in body["Report_Header"]["Exceptions"]]
    assert body["Report_Header"]["Report_Filters"]["End_Date"] < today.isoformat()


def test_item_filters(sushi):
    period = {"begin_date": "2024-01", "end_date": "2024-03", **CUSTOMER}
    _, body = sushi("reports/ir", **period, author=f"https://orcid.org/{ORCID}")
    assert [i["Item"] for g in body["Report_Items"] for i in g["Items"]] == ["The paper record"]
    _, body = sushi("reports/ir", **period, data_type="Dataset", access_method="Regular")
    assert [i["Item"] for g in body["Report_Items"] for i in g["Items"]] == ["The data record"]
    _, body = sushi("reports/ir", **period, access_method="TDM")
    items = [i for g in body["Report_Items"] for i in g["Items"]]
    assert [i["Item"] for i in items] == ["The paper record"]
    proprietary = items[0]["Item_ID"]["Proprietary"]
    _, body = sushi("reports/ir", **period, item_id=proprietary)
    assert [i["Item"] for g in body["Report_Items"] for i in g["Items"]] == ["The paper record"]
    _, body = sushi("reports/ir", **period, yop="1990-1999")
    assert body["Report_Items"] == []
    assert sorted(s.key for s in RECORDS) == ["book", "data", "paper", "photo"]
