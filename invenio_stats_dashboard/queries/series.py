"""The category queries: daily documents turned into the dashboard's data series.

Shape (the reference dashboard's, so its clients keep working)::

    {"<subcount>": {"<metric>": [{"id", "name", "data": [["YYYY-MM-DD", value], ...],
                                  "type", "valueType"}, ...]}}

Subcount and metric keys are camelCase (``accessStatuses``, ``dataVolume``). Each
metric of ``global`` holds one series (id ``global``, type ``bar``) with a point for
every day; each subcount metric holds one series per value seen in the documents (type
``line``) with a point for each document that lists the value, as the reference does:
a delta has a value's non-zero days (a missing day is 0); snapshot documents are read for subcounts
on :func:`snapshot_item_days` only. Record categories add ``filePresence``
(``metadata_only`` / ``with_files``). Dates are full ``YYYY-MM-DD`` days. ``valueType``
is ``filesize`` for byte volumes, ``number`` otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from functools import cache

from ..aggregations.documents import document_day
from ..aggregations.subcounts import label_of

GLOBAL_SERIES = {"id": "global", "name": "Global", "type": "bar"}
SPLITS = ("metadata_only", "with_files")
SPLIT_NAMES = {"metadata_only": "Metadata Only", "with_files": "With Files"}
SIZE_METRICS = {"dataVolume"}


DAILY_ITEM_DAYS = 62
"""Ranges up to this many days get daily subcount points in the snapshot categories."""


def snapshot_item_days(start: date, end: date) -> list[date]:
    """The days whose snapshot subcounts a snapshot category reads.

    Every day for ranges up to :data:`DAILY_ITEM_DAYS`; else the first day, each month's
    last day and the last day. A snapshot document holds every subcount's top items, so
    reading all of a year's would move hundreds of megabytes for a handful of lines;
    the global series stay daily either way.
    """
    if (end - start).days < DAILY_ITEM_DAYS:
        return [start + timedelta(days=n) for n in range((end - start).days + 1)]
    days = {start, end}
    month = date(start.year, start.month, 1)
    while month <= end:
        following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        last = following - timedelta(days=1)
        if start <= last <= end:
            days.add(last)
        month = following
    return sorted(days)


@cache
def camel(name: str) -> str:
    """``access_statuses`` -> ``accessStatuses`` (cached: called for every subcount item)."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _value_type(metric: str) -> str:
    return "filesize" if metric in SIZE_METRICS else "number"


def _net(pair: dict) -> int | float:
    """``added - removed`` of a records/parents/files pair of split or file dicts."""
    return sum(pair["added"].values()) - sum(pair["removed"].values())


def _series(ident: str, name: str, kind: str, metric: str, points: list) -> dict:
    return {
        "id": ident,
        "name": name,
        "data": points,
        "type": kind,
        "valueType": _value_type(metric),
    }


class SeriesBuilder:
    """Collects one category's series while walking its documents day by day."""

    def __init__(self, metrics: dict[str, list[str]], drop_zeros: bool = False):
        self.metrics = metrics
        """camelCase subcount key -> camelCase metrics, in output order."""
        self.drop_zeros = drop_zeros
        """Deltas: an item's 0 is left out (a missing day means no change)."""
        self.global_points: dict[str, list] = {m: [] for m in metrics.get("global", [])}
        self.items: dict[str, dict[str, dict]] = {key: {} for key in metrics if key != "global"}
        """subcount -> item id -> {"name", "points": {metric: [(day, value), ...]}, "day"}."""

    def add_global(self, day: str, values: dict[str, float]) -> None:
        """One day's global values."""
        for metric, points in self.global_points.items():
            points.append([day, values.get(metric, 0)])

    def add_item(self, key: str, ident: str, name, day: str, values: dict[str, float]) -> None:
        """One day's values of one subcount item (days in order; a repeated day replaces)."""
        items = self.items.get(key)
        if items is None:
            return
        item = items.get(ident)
        if item is None:
            points = {metric: [] for metric in self.metrics[key]}
            item = items[ident] = {"name": label_of(name) or ident, "points": points, "day": None}
        elif item["day"] == day:
            for points in item["points"].values():
                if points and points[-1][0] == day:
                    points.pop()
        item["day"] = day
        series = item["points"]
        if self.drop_zeros:
            for metric, value in values.items():
                if value and metric in series:
                    series[metric].append((day, value))
        else:
            for metric, points in series.items():
                points.append((day, values.get(metric, 0)))

    def build(self) -> dict:
        """The category's JSON shape."""
        result: dict = {}
        for key, metrics in self.metrics.items():
            if key == "global":
                result[key] = {
                    metric: [
                        {
                            **GLOBAL_SERIES,
                            "data": self.global_points[metric],
                            "valueType": _value_type(metric),
                        }
                    ]
                    for metric in metrics
                }
                continue
            items = self.items[key]
            result[key] = {
                metric: [
                    _series(
                        ident,
                        item["name"],
                        "line",
                        metric,
                        item["points"][metric],
                    )
                    for ident, item in sorted(items.items())
                ]
                for metric in metrics
            }
        return result


# --------------------------------------------------------------------------- records
RECORD_DELTA_GLOBAL = [
    "records",
    "fileCount",
    "dataVolume",
    "parents",
    "uploaders",
    "recordsAdded",
    "recordsRemoved",
    "fileCountAdded",
    "fileCountRemoved",
]
"""The reference's five, then the additions and removals behind the net figures."""
RECORD_DELTA_ITEM = ["records", "fileCount", "dataVolume", "parents"]
RECORD_SNAPSHOT_GLOBAL = ["records", "parents", "uploaders", "fileCount", "dataVolume"]
RECORD_SNAPSHOT_ITEM = ["records", "parents", "fileCount", "dataVolume"]


def _record_delta_values(body: dict) -> dict:
    return {
        "records": _net(body["records"]),
        "parents": _net(body["parents"]),
        "fileCount": body["files"]["added"]["file_count"] - body["files"]["removed"]["file_count"],
        "dataVolume": body["files"]["added"]["data_volume"]
        - body["files"]["removed"]["data_volume"],
    }


def _record_delta_presence(doc: dict, split: str) -> dict:
    files = doc["files"]
    with_files = split == "with_files"
    return {
        "records": doc["records"]["added"][split] - doc["records"]["removed"][split],
        "parents": doc["parents"]["added"][split] - doc["parents"]["removed"][split],
        "fileCount": files["added"]["file_count"] - files["removed"]["file_count"]
        if with_files
        else 0,
        "dataVolume": files["added"]["data_volume"] - files["removed"]["data_volume"]
        if with_files
        else 0,
    }


def _record_snapshot_values(records: dict, parents: dict, files: dict) -> dict:
    return {
        "records": sum(records.values()),
        "parents": sum(parents.values()),
        "fileCount": files["file_count"],
        "dataVolume": files["data_volume"],
    }


def _record_snapshot_presence(doc: dict, split: str) -> dict:
    with_files = split == "with_files"
    return {
        "records": doc["total_records"][split],
        "parents": doc["total_parents"][split],
        "fileCount": doc["total_files"]["file_count"] if with_files else 0,
        "dataVolume": doc["total_files"]["data_volume"] if with_files else 0,
    }


def record_delta_category(documents: list[dict], subcount_keys: list[str]) -> dict:
    """``record-delta-category``: net additions per day (added - removed)."""
    metrics = {"global": RECORD_DELTA_GLOBAL}
    metrics.update({camel(key): RECORD_DELTA_ITEM for key in subcount_keys})
    metrics["filePresence"] = RECORD_DELTA_ITEM
    builder = SeriesBuilder(metrics, drop_zeros=True)
    for doc in documents:
        day = document_day(doc).isoformat()
        builder.add_global(
            day,
            {
                **_record_delta_values(doc),
                "uploaders": doc.get("uploaders", 0),
                "recordsAdded": sum(doc["records"]["added"].values()),
                "recordsRemoved": sum(doc["records"]["removed"].values()),
                "fileCountAdded": doc["files"]["added"]["file_count"],
                "fileCountRemoved": doc["files"]["removed"]["file_count"],
            },
        )
        for split in SPLITS:
            builder.add_item(
                "filePresence", split, SPLIT_NAMES[split], day, _record_delta_presence(doc, split)
            )
        for key, items in (doc.get("subcounts") or {}).items():
            for item in items if isinstance(items, list) else []:
                builder.add_item(
                    camel(key), item["id"], item.get("label"), day, _record_delta_values(item)
                )
    return builder.build()


def record_snapshot_category(documents: list[dict], subcount_keys: list[str]) -> dict:
    """``record-snapshot-category``: totals at the end of each day."""
    metrics = {"global": RECORD_SNAPSHOT_GLOBAL}
    metrics.update({camel(key): RECORD_SNAPSHOT_ITEM for key in subcount_keys})
    metrics["filePresence"] = RECORD_SNAPSHOT_ITEM
    builder = SeriesBuilder(metrics)
    for doc in documents:
        day = document_day(doc).isoformat()
        totals = _record_snapshot_values(
            doc["total_records"], doc["total_parents"], doc["total_files"]
        )
        builder.add_global(day, {**totals, "uploaders": doc.get("total_uploaders", 0)})
        for split in SPLITS:
            builder.add_item(
                "filePresence",
                split,
                SPLIT_NAMES[split],
                day,
                _record_snapshot_presence(doc, split),
            )
        for key, items in (doc.get("subcounts") or {}).items():
            for item in items if isinstance(items, list) else []:
                values = _record_snapshot_values(item["records"], item["parents"], item["files"])
                builder.add_item(camel(key), item["id"], item.get("label"), day, values)
    return builder.build()


# --------------------------------------------------------------------------- usage
USAGE_METRICS = [
    "views",
    "downloads",
    "viewVisitors",
    "downloadVisitors",
    "viewUniqueRecords",
    "viewUniqueParents",
    "downloadUniqueRecords",
    "downloadUniqueParents",
    "downloadUniqueFiles",
    "dataVolume",
]


def _usage_values(view: dict, download: dict) -> dict:
    return {
        "views": view.get("total_events", 0),
        "downloads": download.get("total_events", 0),
        "viewVisitors": view.get("unique_visitors", 0),
        "downloadVisitors": download.get("unique_visitors", 0),
        "viewUniqueRecords": view.get("unique_records", 0),
        "viewUniqueParents": view.get("unique_parents", 0),
        "downloadUniqueRecords": download.get("unique_records", 0),
        "downloadUniqueParents": download.get("unique_parents", 0),
        "downloadUniqueFiles": download.get("unique_files", 0),
        "dataVolume": download.get("total_volume", 0),
    }


def _usage_category(
    documents: list[dict],
    keys: list[str],
    item_keys: Callable[[str], list[str]],
    drop_zeros: bool,
) -> dict:
    metrics = {"global": USAGE_METRICS}
    for key in keys:
        for output in item_keys(key):
            metrics[output] = USAGE_METRICS
    builder = SeriesBuilder(metrics, drop_zeros)
    targets: dict[tuple[str, str | None], list[str]] = {}
    """(subcount, split of a "top" subcount) -> the output keys its items go to."""
    for doc in documents:
        day = document_day(doc).isoformat()
        totals = doc.get("totals") or {}
        builder.add_global(day, _usage_values(totals.get("view", {}), totals.get("download", {})))
        for key, items in (doc.get("subcounts") or {}).items():
            lists = items if isinstance(items, dict) else {None: items}
            for split, entries in lists.items():
                outputs = targets.get((key, split))
                if outputs is None:
                    outputs = targets[key, split] = [
                        output
                        for output in item_keys(key)
                        if split is None or output.endswith(camel(f"_{split}"))
                    ]
                for item in entries or []:
                    values = _usage_values(item.get("view", {}), item.get("download", {}))
                    for output in outputs:
                        builder.add_item(output, item["id"], item.get("label"), day, values)
    return builder.build()


def usage_delta_category(documents: list[dict], kinds: dict[str, str]) -> dict:
    """``usage-delta-category``: views and downloads per day."""
    return _usage_category(documents, list(kinds), lambda key: [camel(key)], drop_zeros=True)


def usage_snapshot_category(documents: list[dict], kinds: dict[str, str]) -> dict:
    """``usage-snapshot-category``: cumulative views and downloads.

    "top" subcounts come as ``<key>ByView`` and ``<key>ByDownload`` (the reference
    dashboard's keys); both hold the items the snapshot kept.
    """

    def item_keys(key: str) -> list[str]:
        if kinds.get(key) == "top":
            return [camel(f"{key}_by_view"), camel(f"{key}_by_download")]
        return [camel(key)]

    return _usage_category(documents, list(kinds), item_keys, drop_zeros=False)
