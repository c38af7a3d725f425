"""Response bodies of the statistics API, one serializer per format.

Each takes the answers of one request, ``{label: JSON bytes}`` (as computed or read from
the cache), and returns the body bytes:

- JSON (``application/json``, the default): ``{"<label>": <result>, ...}``, joined from
  the cached bytes without decoding them;
- CSV (``text/csv``): one table per query (:mod:`~invenio_stats_dashboard.queries.tables`);
  several tables come as a zip of ``<name>.csv`` files (``application/zip``);
- XLSX: one sheet per table;
- XML (``application/xml``): the JSON structure as elements.
"""

from __future__ import annotations

import io
import re
import zipfile
from xml.etree import ElementTree

import orjson

from ..queries.tables import tables, to_csv

JSON = "application/json"
CSV = "text/csv"
ZIP = "application/zip"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XML = "application/xml"


class JSONSerializer:
    """``{"<label>": <result>}`` from pre-encoded results."""

    mimetype = JSON
    content_type = f"{JSON}; charset=utf-8"
    extension = "json"
    download = False

    def serialize(self, answers: dict[str, bytes]) -> tuple[bytes, str]:
        """Body and content type."""
        parts = [orjson.dumps(label) + b":" + body for label, body in answers.items()]
        return b"{" + b",".join(parts) + b"}", self.content_type


def _decoded(answers: dict[str, bytes]) -> dict:
    return {label: orjson.loads(body) for label, body in answers.items()}


class CSVSerializer:
    """One CSV file, or a zip of them when the answers make several tables."""

    mimetype = CSV
    extension = "csv"
    download = True

    def serialize(self, answers: dict[str, bytes]) -> tuple[bytes, str]:
        """Body and content type."""
        found = tables(_decoded(answers))
        if len(found) == 1:
            ((headers, rows),) = found.values()
            return to_csv(headers, rows), f"{CSV}; charset=utf-8"
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, (headers, rows) in found.items():
                archive.writestr(f"{_safe(name)}.csv", to_csv(headers, rows))
        return out.getvalue(), ZIP

    @staticmethod
    def extension_for(content_type: str) -> str:
        """``csv``, or ``zip`` for several tables."""
        return "zip" if content_type == ZIP else "csv"


class XLSXSerializer:
    """A workbook with one sheet per table."""

    mimetype = XLSX
    extension = "xlsx"
    download = True

    def serialize(self, answers: dict[str, bytes]) -> tuple[bytes, str]:
        """Body and content type."""
        import xlsxwriter

        out = io.BytesIO()
        workbook = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_numbers": False})
        bold = workbook.add_format({"bold": True})
        used: set[str] = set()
        for name, (headers, rows) in tables(_decoded(answers)).items():
            sheet = workbook.add_worksheet(_sheet_name(name, used))
            sheet.write_row(0, 0, headers, bold)
            for number, row in enumerate(rows, start=1):
                sheet.write_row(number, 0, row)
            sheet.freeze_panes(1, 0)
        workbook.close()
        return out.getvalue(), XLSX


class XMLSerializer:
    """``<stats><query name="...">...</query></stats>``: the JSON structure as elements."""

    mimetype = XML
    extension = "xml"
    download = True

    def serialize(self, answers: dict[str, bytes]) -> tuple[bytes, str]:
        """Body and content type."""
        root = ElementTree.Element("stats")
        for label, result in _decoded(answers).items():
            _element(ElementTree.SubElement(root, "query", name=label), result)
        body = ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
        return body, f"{XML}; charset=utf-8"


_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def _element(parent: ElementTree.Element, value) -> None:
    """Write a JSON value under ``parent`` (valid names as tags, others as attributes)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            key = str(key)
            child = (
                ElementTree.SubElement(parent, key)
                if _NAME.match(key) and not key.lower().startswith("xml")
                else ElementTree.SubElement(parent, "entry", key=key)
            )
            _element(child, inner)
    elif isinstance(value, list):
        for inner in value:
            _element(ElementTree.SubElement(parent, "item"), inner)
    elif value is not None:
        parent.text = str(value).lower() if isinstance(value, bool) else str(value)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _sheet_name(name: str, used: set[str]) -> str:
    """A unique sheet name of at most 31 characters without the forbidden ones."""
    base = re.sub(r"[\[\]:*?/\\]", "_", name)[:31]
    candidate, number = base, 1
    while candidate.lower() in used:
        number += 1
        suffix = f"~{number}"
        candidate = base[: 31 - len(suffix)] + suffix
    used.add(candidate.lower())
    return candidate


SERIALIZERS = {
    s.mimetype: s for s in (JSONSerializer(), CSVSerializer(), XLSXSerializer(), XMLSerializer())
}
"""Accept mimetype -> serializer."""
