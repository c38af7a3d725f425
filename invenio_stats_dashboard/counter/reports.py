"""COUNTER R5.1 reports built from the monthly item index (never from raw events).

PR and PR_P1 are one composite aggregation; IR, IR_A1 and IR_M1 a paged read of the
item documents in recid order. Months without usage are left out (COUNTER's
``Counts`` hold the months with usage); an empty report carries exception 3030.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime

from flask import current_app

from ..core.bookmarks import AggregationBookmarks
from ..core.ids import GLOBAL
from .access import Customer
from .aggregation import COUNTER_ITEMS
from .items import platform_id, platform_name
from .params import REPORTS, REQUESTS, ReportRequest, report_attributes
from .rules import METRICS
from .store import item_documents, months_available, platform_rows

RELEASE = "5.1"
PARTNERS = {
    "Total_Item_Investigations": "Unique_Item_Investigations",
    "Unique_Item_Investigations": "Total_Item_Investigations",
    "Total_Item_Requests": "Unique_Item_Requests",
    "Unique_Item_Requests": "Total_Item_Requests",
}


def registry_record() -> str:
    """``COMMUNITY_STATS_COUNTER_REGISTRY_RECORD``: the platform's COUNTER registry URL."""
    return str(current_app.config.get("COMMUNITY_STATS_COUNTER_REGISTRY_RECORD") or "")


def processed_through() -> date | None:
    """The last day whose usage is in the monthly index (the COUNTER bookmark)."""
    return AggregationBookmarks().get(COUNTER_ITEMS.name, GLOBAL)


# --------------------------------------------------------------------------- lists
def status(enabled: bool, scope: str) -> list[dict]:
    """``/r51/status``."""
    entry: dict = {
        "Description": f"COUNTER R5.1 usage reports of {platform_name()} ({scope})",
        "Service_Active": enabled,
    }
    through = processed_through()
    entry["Note"] = (
        f"Usage is counted through {through.isoformat()}."
        if through
        else "No usage has been counted yet."
    )
    if registry_record():
        entry["Registry_Record"] = registry_record()
    return [entry]


def members(customer: Customer) -> list[dict]:
    """``/r51/members``: the customer itself (no consortia)."""
    return [{"Customer_ID": customer.customer_id, "Institution_Name": customer.name}]


def report_list(community_id: str) -> list[dict]:
    """``/r51/reports``: the supported reports and the months they cover."""
    months = months_available(community_id)
    if months is None:
        through = processed_through()
        last = (through or datetime.now(UTC).date()).isoformat()[:7]
        months = (last, last)
    return [
        {
            "Report_Name": spec.name,
            "Report_ID": spec.report_id,
            "Release": RELEASE,
            "Report_Description": spec.description,
            "Path": f"/r51/reports/{spec.path}",
            "First_Month_Available": months[0],
            "Last_Month_Available": months[1],
        }
        for spec in REPORTS.values()
    ]


# --------------------------------------------------------------------------- reports
def header(request: ReportRequest, customer: Customer) -> dict:
    """The Report_Header (exceptions added by the caller)."""
    filters = {"Begin_Date": request.begin.isoformat(), "End_Date": request.end.isoformat()}
    filters.update(request.filters)
    out = {
        "Report_Name": request.spec.name,
        "Report_ID": request.spec.report_id,
        "Release": RELEASE,
        "Institution_Name": customer.name,
        "Institution_ID": {"Proprietary": [f"{platform_id()}:{customer.customer_id}"]},
        "Report_Filters": filters,
    }
    attributes = report_attributes(request) if not request.spec.fixed else {}
    if attributes:
        out["Report_Attributes"] = attributes
    out["Created"] = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    out["Created_By"] = platform_name()
    out["Registry_Record"] = registry_record()
    return out


def build_report(request: ReportRequest, customer: Customer, community_id: str) -> dict:
    """The whole report of a checked request."""
    through = processed_through()
    if through is None or through < request.end:
        counted = through.isoformat() if through else "no day yet"
        request.warn(3031, f"usage is counted through {counted}")
    builders = {"pr": _pr, "pr_p1": _pr, "ir": _ir, "ir_a1": _ir, "ir_m1": _ir}
    items = builders[request.spec.path](request, community_id)
    if not items:
        request.warn(3030, f"no usage from {request.begin} to {request.end}")
    head = header(request, customer)
    if request.warnings:
        head["Exceptions"] = request.warnings
    return {"Report_Header": head, "Report_Items": items}


def _counts(monthly: dict[str, int], request: ReportRequest) -> dict[str, int]:
    """``{"YYYY-MM": n}`` of the months with usage (granularity Total: one sum)."""
    kept = {month: n for month, n in sorted(monthly.items()) if n}
    if request.granularity == "Total" and kept:
        return {request.first_month: sum(kept.values())}
    return kept


def _performance(
    sums: dict[str, dict[str, int]], metrics: Iterable[str], request: ReportRequest
) -> dict:
    performance = {}
    for metric in metrics:
        counts = _counts(sums.get(metric, {}), request)
        if counts:
            performance[metric] = counts
    return performance


def _pr_metrics(request: ReportRequest) -> tuple[str, ...]:
    """PR rows need two metrics: a lone one brings its total/unique partner (3060)."""
    metrics = request.metrics
    if request.spec.path == "pr_p1":
        return REQUESTS
    if len(metrics) == 1:
        partner = PARTNERS[metrics[0]]
        request.warn(3060, f"metric_type: a PR row needs two metrics; {partner} added")
        return tuple(m for m in METRICS if m in (metrics[0], partner))
    return metrics


def _pr(request: ReportRequest, community_id: str) -> list[dict]:
    metrics = _pr_metrics(request)
    show_method = "Access_Method" in request.attributes
    rows: dict[tuple, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for row in platform_rows(community_id, request.first_month, request.last_month, request.terms):
        key = (row["data_type"], row["access_method"] if show_method else None)
        for metric in metrics:
            monthly = rows[key][metric]
            monthly[row["month"]] = monthly.get(row["month"], 0) + row[metric]
    performances = []
    for (data_type, method), sums in sorted(
        rows.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")
    ):
        performance = _performance(sums, metrics, request)
        if len(performance) < 2:
            continue
        entry: dict = {"Data_Type": data_type}
        if method:
            entry["Access_Method"] = method
        entry["Performance"] = performance
        performances.append(entry)
    if not performances:
        return []
    return [{"Platform": platform_name(), "Attribute_Performance": performances}]


# --------------------------------------------------------------------------- items
def _wanted(request: ReportRequest, doc: dict) -> bool:
    """Filters the index does not apply: YOP ranges, item id, author."""
    if request.yops:
        year = int(doc.get("yop") or 1)
        if not any(low <= year <= high for low, high in request.yops):
            return False
    if request.item_id:
        item_ids = (doc.get("item") or {}).get("item_id") or {}
        wanted = request.item_id.lower()
        if wanted not in {str(v).lower() for v in item_ids.values()}:
            return False
    return not (request.author and request.author not in (doc.get("author_ids") or []))


def _grouped(docs: Iterator[dict]) -> Iterator[list[dict]]:
    """The documents of one item (recid) at a time."""
    batch: list[dict] = []
    for doc in docs:
        if batch and doc["recid"] != batch[0]["recid"]:
            yield batch
            batch = []
        batch.append(doc)
    if batch:
        yield batch


def _ir_item(request: ReportRequest, docs: list[dict]) -> dict | None:
    """One item's entry (None when no metric has usage)."""
    path, shown = request.spec.path, set(request.attributes)
    metrics = REQUESTS if path in ("ir_a1", "ir_m1") else request.metrics
    latest = docs[-1]
    description = latest.get("item") or {}
    groups: dict[tuple, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for doc in docs:
        if path == "ir_a1":
            key: tuple = (("Access_Type", doc["access_type"]),)
        elif path == "ir_m1":
            key = (("Data_Type", doc["data_type"]),)
        else:
            key = (("Data_Type", doc["data_type"]),)
            for attribute, field_name in (
                ("YOP", "yop"),
                ("Access_Type", "access_type"),
                ("Access_Method", "access_method"),
            ):
                if attribute in shown:
                    key += ((attribute, doc[field_name]),)
        for metric in metrics:
            monthly = groups[key][metric]
            monthly[doc["month"]] = monthly.get(doc["month"], 0) + doc["metrics"][metric]
    performances = []
    for key, sums in sorted(groups.items()):
        performance = _performance(sums, metrics, request)
        if not performance or (path in ("ir_a1", "ir_m1") and len(performance) < 2):
            continue
        performances.append({**dict(key), "Performance": performance})
    if not performances:
        return None
    item: dict = {
        "Item": description.get("title") or "",
        "Publisher": description.get("publisher") or "",
        "Platform": platform_name(),
    }
    if description.get("item_id"):
        item["Item_ID"] = description["item_id"]
    authors = description.get("authors")
    if path == "ir_a1" or "Authors" in shown:
        if authors:
            item["Authors"] = authors
    if (path == "ir_a1" or "Publication_Date" in shown) and description.get("publication_date"):
        item["Publication_Date"] = description["publication_date"]
    item["Attribute_Performance"] = performances
    return item


def _ir(request: ReportRequest, community_id: str) -> list[dict]:
    path = request.spec.path
    docs = (
        doc
        for doc in item_documents(
            community_id, request.first_month, request.last_month, request.terms
        )
        if _wanted(request, doc)
    )
    with_parents = path == "ir_a1" or (path == "ir" and request.parents)
    lone: list[dict] = []
    by_parent: dict[str, dict] = {}
    for docs_of_item in _grouped(docs):
        item = _ir_item(request, docs_of_item)
        if item is None:
            continue
        parent = (docs_of_item[-1].get("item") or {}).get("parent")
        if not (with_parents and parent and parent.get("issn")):
            lone.append(item)
            continue
        group = by_parent.get(parent["issn"])
        if group is None:
            group = {"Item_ID": {"Online_ISSN": parent["issn"]}}
            if len(parent.get("title") or "") >= 1:
                group["Title"] = parent["title"]
            if path == "ir":
                group["Data_Type"] = "Journal"
            group["Items"] = []
            by_parent[parent["issn"]] = group
        group["Items"].append(item)
    out = [by_parent[issn] for issn in sorted(by_parent)]
    if lone:
        out.append({"Items": lone})
    return out
