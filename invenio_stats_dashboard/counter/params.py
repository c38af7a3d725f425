"""A report request's parameters, read the COUNTER_SUSHI way.

Missing ``customer_id``, ``begin_date`` or ``end_date`` is fatal (1030), so are malformed
or reversed dates and a ``begin_date`` in the current or a future month (3020). An
``end_date`` in the current month is clamped to the last complete month (warning 3031).
Bad filter values are ignored with 3060, bad attribute values with 3062, parameters a
report does not take with 3050; the report is still answered (HTTP 200).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from ..core.days import utc_today
from .errors import CounterError, exception
from .items import ITEM_DATA_TYPES, MULTIMEDIA, platform_id, platform_name
from .rules import METRICS

BASE_PARAMS = ("customer_id", "requestor_id", "api_key", "platform", "begin_date", "end_date")
ACCESS_METHODS = ("Regular", "TDM")
ACCESS_TYPES = ("Controlled", "Open", "Free_To_Read")
EXTENSIONS = ("attributed", "country_code", "subdivision_code")
"""COUNTER's common extensions: not supported (usage is not attributed to institutions)."""

PR_DATA_TYPES = (*ITEM_DATA_TYPES, "Book", "Conference", "Journal", "Newspaper_or_Newsletter")
PR_DATA_TYPES += ("Platform", "Reference_Work")
PR_METRICS = (
    "Searches_Platform",
    *METRICS,
    "Unique_Title_Investigations",
    "Unique_Title_Requests",
)
IR_METRICS = (*METRICS, "Limit_Exceeded", "No_License")
REQUESTS = ("Total_Item_Requests", "Unique_Item_Requests")


@dataclass(frozen=True)
class ReportSpec:
    """One COUNTER report: its id, name, parameters and fixed filters."""

    path: str
    report_id: str
    name: str
    description: str
    params: tuple[str, ...]
    metrics: tuple[str, ...] = ()
    data_types: tuple[str, ...] = ()
    attributes: tuple[str, ...] = ()
    fixed: dict = field(default_factory=dict)
    """A standard view's filters (echoed as they are, in this order)."""


REPORTS = {
    "pr": ReportSpec(
        "pr",
        "PR",
        "Platform Report",
        "Usage of the platform by Data_Type and Access_Method.",
        (
            *BASE_PARAMS,
            "metric_type",
            "data_type",
            "access_method",
            "attributes_to_show",
            "granularity",
            *EXTENSIONS,
        ),
        PR_METRICS,
        PR_DATA_TYPES,
        ("Access_Method",),
    ),
    "pr_p1": ReportSpec(
        "pr_p1",
        "PR_P1",
        "Platform Usage",
        "Requests of the platform's items by Data_Type (Regular access).",
        BASE_PARAMS,
        fixed={
            "Access_Method": ["Regular"],
            "Metric_Type": [
                "Searches_Platform",
                "Total_Item_Requests",
                "Unique_Item_Requests",
                "Unique_Title_Requests",
            ],
        },
    ),
    "ir": ReportSpec(
        "ir",
        "IR",
        "Item Report",
        "Usage of each record (item).",
        (
            *BASE_PARAMS,
            "metric_type",
            "data_type",
            "access_method",
            "access_type",
            "yop",
            "attributes_to_show",
            "granularity",
            "include_parent_details",
            "include_component_details",
            "item_id",
            "author",
            *EXTENSIONS,
        ),
        IR_METRICS,
        ITEM_DATA_TYPES,
        ("YOP", "Access_Type", "Access_Method", "Authors", "Publication_Date", "Article_Version"),
    ),
    "ir_a1": ReportSpec(
        "ir_a1",
        "IR_A1",
        "Journal Article Requests",
        "Requests of each article (Regular access).",
        BASE_PARAMS,
        fixed={
            "Access_Method": ["Regular"],
            "Data_Type": ["Article"],
            "Metric_Type": list(REQUESTS),
        },
    ),
    "ir_m1": ReportSpec(
        "ir_m1",
        "IR_M1",
        "Multimedia Item Requests",
        "Requests of each multimedia item (Regular access).",
        BASE_PARAMS,
        fixed={
            "Access_Method": ["Regular"],
            "Data_Type": list(MULTIMEDIA),
            "Metric_Type": list(REQUESTS),
        },
    ),
}
"""The reports of a repository (COUNTER R5.1 §3.2): PR, PR_P1, IR, IR_A1, IR_M1."""

EXTENSION_ATTRIBUTES = (
    "Institution_Name",
    "Customer_ID",
    "Country_Name",
    "Country_Code",
    "Subdivision_Name",
    "Subdivision_Code",
    "Attributed",
)
DATE = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$")
YOP = re.compile(r"^(\d{4})(?:-(\d{4}))?$")
ORCID = re.compile(r"([0-9]{4}-[0-9]{4}-[0-9]{4}-[0-9]{3}[0-9X])$")


@dataclass
class ReportRequest:
    """A checked report request: its period, filters, attributes and warnings."""

    spec: ReportSpec
    customer_id: str
    begin: date
    end: date
    platform: str | None = None
    metrics: tuple[str, ...] = METRICS
    filters: dict[str, list[str]] = field(default_factory=dict)
    """Filters echoed in Report_Filters (Data_Type, Access_Method, ...)."""
    terms: dict[str, list[str]] = field(default_factory=dict)
    """The same, as index fields and values."""
    yops: list[tuple[int, int]] = field(default_factory=list)
    item_id: str | None = None
    author: str | None = None
    attributes: list[str] = field(default_factory=list)
    granularity: str = "Month"
    parents: bool | None = None
    warnings: list[dict] = field(default_factory=list)

    @property
    def first_month(self) -> str:
        """``YYYY-MM`` of the begin date."""
        return self.begin.isoformat()[:7]

    @property
    def last_month(self) -> str:
        """``YYYY-MM`` of the end date."""
        return self.end.isoformat()[:7]

    def months(self) -> list[str]:
        """Every ``YYYY-MM`` of the period."""
        out, year, month = [], self.begin.year, self.begin.month
        while (year, month) <= (self.end.year, self.end.month):
            out.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return out

    def warn(self, code: int, data: str | None = None) -> None:
        """Add a header exception (once)."""
        entry = exception(code, data)
        if entry not in self.warnings:
            self.warnings.append(entry)


def _date(value: str | None, name: str, end: bool) -> date:
    if not value:
        raise CounterError(1030, f"{name} is required (yyyy-mm or yyyy-mm-dd)")
    match = DATE.match(value.strip())
    try:
        if not match:
            raise ValueError
        year, month = int(match.group(1)), int(match.group(2))
        day = calendar.monthrange(year, month)[1] if end else 1
        if match.group(3):
            date(year, month, int(match.group(3)))  # a real day
        return date(year, month, day)
    except ValueError:
        raise CounterError(3020, f"{name} {value!r} is not yyyy-mm or yyyy-mm-dd") from None


def _pipe(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split("|") if part.strip()]


def _choose(request: ReportRequest, name: str, value: str | None, allowed) -> list[str]:
    """The valid values of a pipe list; the others are reported (3060) and ignored."""
    values = _pipe(value)
    bad = [v for v in values if v not in allowed]
    if bad:
        request.warn(3060, f"{name}: {'|'.join(bad)}")
    return [v for v in values if v in allowed]


def check_platform(value: str | None) -> str | None:
    """The ``platform`` parameter: this platform's name or id, else fatal 1030."""
    if value is None or value == "":
        return None
    if value.strip().lower() in (platform_name().lower(), platform_id().lower()):
        return value.strip()
    raise CounterError(1030, f"unknown platform {value!r}; this server is {platform_name()!r}")


def parse_report_request(path: str, args: dict[str, str]) -> ReportRequest:
    """Read a report request (``args``: the query string, one value per name)."""
    spec = REPORTS[path]
    customer_id = (args.get("customer_id") or "").strip()
    if not customer_id:
        raise CounterError(1030, "customer_id is required")
    begin = _date(args.get("begin_date"), "begin_date", end=False)
    end = _date(args.get("end_date"), "end_date", end=True)
    if end < begin:
        raise CounterError(3020, f"end_date {args['end_date']} is before begin_date")
    today = utc_today()
    this_month = date(today.year, today.month, 1)
    if begin >= this_month:
        raise CounterError(
            3020, f"begin_date {args['begin_date']} is in the current or a future month"
        )
    request = ReportRequest(spec, customer_id, begin, end, check_platform(args.get("platform")))
    if end >= this_month:
        request.end = this_month - timedelta(days=1)
        request.warn(3031, f"{this_month.isoformat()[:7]} is not complete yet")
    unknown = sorted(name for name in args if name not in spec.params)
    if unknown:
        request.warn(3050, ", ".join(unknown))
    given = [name for name in EXTENSIONS if name in args and name in spec.params]
    if given:
        request.warn(3050, f"{', '.join(given)}: usage is not attributed to institutions")
    if spec.fixed:
        _fixed_view(request)
    else:
        _filters(request, args)
        _attributes(request, args)
    return request


def _fixed_view(request: ReportRequest) -> None:
    fixed = request.spec.fixed
    request.filters = {key: list(values) for key, values in fixed.items()}
    request.metrics = tuple(m for m in fixed["Metric_Type"] if m in METRICS)
    request.terms = {"access_method": list(fixed["Access_Method"])}
    if "Data_Type" in fixed:
        request.terms["data_type"] = list(fixed["Data_Type"])


def _filters(request: ReportRequest, args: dict[str, str]) -> None:
    spec = request.spec
    metrics = _choose(request, "metric_type", args.get("metric_type"), spec.metrics)
    if metrics:
        request.filters["Metric_Type"] = metrics
        request.metrics = tuple(m for m in METRICS if m in metrics)
    for name, key, field_name, allowed in (
        ("data_type", "Data_Type", "data_type", spec.data_types),
        ("access_method", "Access_Method", "access_method", ACCESS_METHODS),
        ("access_type", "Access_Type", "access_type", ACCESS_TYPES),
    ):
        if name not in spec.params:
            continue
        values = _choose(request, name, args.get(name), allowed)
        if values:
            request.filters[key] = values
            request.terms[field_name] = values
    if "yop" in spec.params and args.get("yop"):
        ranges, bad = [], []
        for part in _pipe(args.get("yop")):
            match = YOP.match(part)
            if not match or (match.group(2) and int(match.group(2)) < int(match.group(1))):
                bad.append(part)
                continue
            ranges.append((int(match.group(1)), int(match.group(2) or match.group(1))))
        if bad:
            request.warn(3060, f"yop: {'|'.join(bad)}")
        if ranges:
            request.yops = ranges
            request.filters["YOP"] = [p for p in _pipe(args["yop"]) if p not in bad]
    if "item_id" in spec.params and args.get("item_id"):
        request.item_id = args["item_id"].strip()
        request.filters["Item_ID"] = request.item_id
    if "author" in spec.params and args.get("author"):
        match = ORCID.search(args["author"].strip())
        if match:
            request.author = match.group(1)
            request.filters["Author"] = args["author"].strip()
        else:
            request.warn(3060, f"author: {args['author']} (give an ORCID)")
    if request.platform:
        request.filters["Platform"] = request.platform


def _attributes(request: ReportRequest, args: dict[str, str]) -> None:
    spec = request.spec
    shown = _pipe(args.get("attributes_to_show"))
    unsupported = [a for a in shown if a in EXTENSION_ATTRIBUTES]
    bad = [a for a in shown if a not in spec.attributes and a not in EXTENSION_ATTRIBUTES]
    if bad or unsupported:
        request.warn(3062, f"attributes_to_show: {'|'.join(bad + unsupported)}")
    request.attributes = [a for a in shown if a in spec.attributes]
    granularity = args.get("granularity")
    if granularity:
        if granularity in ("Month", "Total"):
            request.granularity = granularity
        else:
            request.warn(3062, f"granularity: {granularity}")
    if "include_parent_details" in spec.params and args.get("include_parent_details"):
        value = args["include_parent_details"].strip().lower()
        if value in ("true", "false"):
            request.parents = value == "true"
        else:
            request.warn(3062, f"include_parent_details: {args['include_parent_details']}")
    components = (args.get("include_component_details") or "").strip().lower()
    if "include_component_details" in spec.params and components:
        if components == "true":
            request.warn(3063, "records are reported as whole items")
        elif components != "false":
            request.warn(3062, f"include_component_details: {components}")


def report_attributes(request: ReportRequest) -> dict:
    """Report_Attributes to echo (empty when nothing was asked)."""
    attributes: dict = {}
    if request.attributes:
        attributes["Attributes_To_Show"] = list(request.attributes)
    if request.parents is not None:
        attributes["Include_Parent_Details"] = "True" if request.parents else "False"
    if request.granularity == "Total":
        attributes["Granularity"] = "Total"
    return attributes
