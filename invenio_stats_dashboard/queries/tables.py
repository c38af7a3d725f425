"""Query results as tables: what CSV and XLSX downloads (and ``read --format csv``) write.

- Daily documents: one row per day, a column per metric (dotted paths such as
  ``records.added.with_files``), subcounts left to the category queries.
- Category results: one row per data point: ``subcount, metric, id, name, date, value,
  value_type``.
- The meta-query: one table per document type.

Dates are always full ``YYYY-MM-DD`` days.
"""

from __future__ import annotations

import csv
import io

from ..aggregations.documents import document_day, flat_metrics

CATEGORY_HEADERS = ["subcount", "metric", "id", "name", "date", "value", "value_type"]


def documents_table(documents: list[dict]) -> tuple[list[str], list[list]]:
    """Headers and rows of daily documents (subcounts left out)."""
    flats = [flat_metrics({k: v for k, v in doc.items() if k != "subcounts"}) for doc in documents]
    metrics = list(dict.fromkeys(key for flat in flats for key in flat))
    headers = ["date", "community_id", *metrics]
    rows = [
        [
            document_day(doc).isoformat(),
            doc.get("community_id", ""),
            *(flat.get(m, 0) for m in metrics),
        ]
        for doc, flat in zip(documents, flats, strict=True)
    ]
    return headers, rows


def category_table(result: dict) -> tuple[list[str], list[list]]:
    """Headers and rows of a category result (one row per data point)."""
    rows = []
    for subcount, metrics in result.items():
        for metric, series_list in metrics.items():
            for series in series_list:
                for day, value in series["data"]:
                    rows.append(
                        [
                            subcount,
                            metric,
                            series["id"],
                            series["name"],
                            day,
                            value,
                            series["valueType"],
                        ]
                    )
    return CATEGORY_HEADERS, rows


TOP_HEADERS = ["list", "rank", "id", "title", "views", "downloads", "url"]


def top_table(result: dict) -> tuple[list[str], list[list]]:
    """Headers and rows of ``top-records`` (both lists, ranked)."""
    rows = []
    for kind, items in result.items():
        for rank, item in enumerate(items, start=1):
            rows.append(
                [
                    kind,
                    rank,
                    item["id"],
                    item["title"],
                    item["views"],
                    item["downloads"],
                    item["url"],
                ]
            )
    return TOP_HEADERS, rows


def is_top(result) -> bool:
    """True for a ``top-records`` result."""
    return isinstance(result, dict) and set(result) == {"by_view", "by_download"}


def is_category(result) -> bool:
    """True for a category result (subcount -> metric -> series)."""
    return isinstance(result, dict) and all(isinstance(v, dict) for v in result.values())


def tables(results: dict) -> dict[str, tuple[list[str], list[list]]]:
    """``name -> (headers, rows)`` for every result (the meta-query gives one per type)."""
    found = {}
    for label, result in results.items():
        if isinstance(result, list):
            found[label] = documents_table(result)
        elif is_top(result):
            found[label] = top_table(result)
        elif is_category(result):
            found[label] = category_table(result)
        else:  # the meta-query: {document type: [documents]}
            for name, documents in result.items():
                found[f"{label}-{name}" if len(results) > 1 else name] = documents_table(documents)
    return found


def to_csv(headers: list[str], rows: list[list]) -> bytes:
    """One table as CSV (UTF-8)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return out.getvalue().encode()
