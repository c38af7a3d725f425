"""How a record appears in COUNTER reports: its Data_Type, identifiers and description.

- The item is the record (the version a DOI names): ``Item_ID`` holds its DOI (when it
  has one), ``Proprietary`` ``<platform id>:<recid>`` and its landing page ``URI``.
- ``Data_Type`` comes from the resource type (:func:`data_type`), ``Access_Type`` from the
  access status (open: Open; embargoed, restricted: Controlled; metadata-only records
  have nothing closed: Open), ``YOP`` from the publication date's first year (``0001``
  when unknown, as COUNTER asks).
- The parent (IR ``include_parent_details``, IR_A1) is the journal of an article when
  the record names its ISSN (``custom_fields.journal:journal``).

Descriptions are read from the records index when a day's usage is written and stored
with the monthly counts, so a report is one read and a deleted record keeps its name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from flask import current_app

from ..core.days import edtf_first_day
from ..core.paging import chunks
from ..usage_events.lookup import CHUNK, LRU, records_by_recid

SOURCE_FIELDS = [
    "id",
    "pids.doi.identifier",
    "metadata.title",
    "metadata.creators.person_or_org.name",
    "metadata.creators.person_or_org.identifiers",
    "metadata.publisher",
    "metadata.publication_date",
    "metadata.resource_type.id",
    "access.status",
    "custom_fields.journal:journal",
]

DATA_TYPES = {
    "publication-article": "Article",
    "publication-preprint": "Article",
    "publication-datapaper": "Article",
    "publication-section": "Book_Segment",
    "publication-conferencepaper": "Conference_Item",
    "publication-report": "Report",
    "publication-technicalnote": "Report",
    "publication-workingpaper": "Report",
    "publication-deliverable": "Report",
    "publication-thesis": "Thesis_or_Dissertation",
    "publication-dissertation": "Thesis_or_Dissertation",
    "publication-patent": "Patent",
    "publication-standard": "Standard",
    "dataset": "Dataset",
    "software": "Software",
    "image": "Image",
    "video": "Audiovisual",
    "audio": "Sound",
    "sound": "Sound",
    "interactive": "Interactive_Resource",
    "multimedia": "Multimedia",
}
"""Resource type id (or its part before the first ``-``) -> COUNTER Data_Type; the rest
is ``Other``. ``COMMUNITY_STATS_COUNTER_DATA_TYPES`` adds to or overrides it."""

ITEM_DATA_TYPES = (
    "Article",
    "Audiovisual",
    "Book_Segment",
    "Conference_Item",
    "Database_Full_Item",
    "Dataset",
    "Image",
    "Interactive_Resource",
    "Multimedia",
    "News_Item",
    "Other",
    "Patent",
    "Reference_Item",
    "Report",
    "Software",
    "Sound",
    "Standard",
    "Thesis_or_Dissertation",
    "Unspecified",
)
"""The Data_Types an item can have in every report (IR's list; PR accepts them all)."""

MULTIMEDIA = ("Audiovisual", "Image", "Interactive_Resource", "Multimedia", "Sound")
"""IR_M1's Data_Types."""

UNKNOWN_YOP = "0001"
PROPRIETARY_NAMESPACE = re.compile(r"^[a-zA-Z][a-zA-Z0-9_./]{1,17}$")
DOI = re.compile(r"^10\.[1-9][0-9]{2}[0-9.]*/.+$")
ISSN = re.compile(r"^[0-9]{4}-[0-9]{3}[0-9X]$")
FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
ORCID = re.compile(r"[0-9]{4}-[0-9]{4}-[0-9]{4}-[0-9]{3}[0-9X]")


def platform_name() -> str:
    """The platform's name in reports (``COMMUNITY_STATS_COUNTER_PLATFORM``)."""
    config = current_app.config
    return str(
        config.get("COMMUNITY_STATS_COUNTER_PLATFORM") or config.get("THEME_SITENAME") or "Invenio"
    )


def platform_id() -> str:
    """The namespace of proprietary ids (``COMMUNITY_STATS_COUNTER_PLATFORM_ID``)."""
    configured = current_app.config.get("COMMUNITY_STATS_COUNTER_PLATFORM_ID")
    if configured:
        return str(configured)
    slug = re.sub(r"[^a-zA-Z0-9_.]", "", platform_name().lower())[:18]
    return slug if PROPRIETARY_NAMESPACE.match(slug) else "invenio"


def data_type(resource_type_id: str | None) -> str:
    """COUNTER's Data_Type of a resource type (``Other`` when unmapped)."""
    mapping = {**DATA_TYPES, **(current_app.config.get("COMMUNITY_STATS_COUNTER_DATA_TYPES") or {})}
    if not resource_type_id:
        return "Unspecified"
    found = mapping.get(resource_type_id) or mapping.get(resource_type_id.split("-")[0])
    return found if found in ITEM_DATA_TYPES else "Other"


def access_type(status: str | None) -> str:
    """COUNTER's Access_Type of an access status."""
    return "Controlled" if status in ("restricted", "embargoed") else "Open"


def _authors(creators: list) -> tuple[list[dict], list[str]]:
    """The first three creators as COUNTER Authors, and every creator's ORCID."""
    authors, orcids = [], []
    for creator in creators or []:
        person = (creator or {}).get("person_or_org") or {}
        orcid = next(
            (
                ORCID.search(str(ident.get("identifier") or "")).group(0)
                for ident in person.get("identifiers") or []
                if ident.get("scheme") == "orcid" and ORCID.search(str(ident.get("identifier")))
            ),
            None,
        )
        if orcid:
            orcids.append(orcid)
        name = str(person.get("name") or "").strip()
        if len(name) >= 2 and len(authors) < 3:
            author = {"Name": name}
            if orcid:
                author["ORCID"] = orcid
            if author not in authors:
                authors.append(author)
    return authors, orcids


def describe(source: dict) -> dict:
    """The stored description of a record: report fields and the filterable ones."""
    recid = str(source.get("id"))
    metadata = source.get("metadata") or {}
    doi = str(((source.get("pids") or {}).get("doi") or {}).get("identifier") or "")
    item_id = {"Proprietary": f"{platform_id()}:{recid}"}
    if DOI.match(doi):
        item_id = {"DOI": doi, **item_id}
    site = str(current_app.config.get("SITE_UI_URL") or "").rstrip("/")
    if site:
        item_id["URI"] = f"{site}/records/{recid}"
    authors, orcids = _authors(metadata.get("creators"))
    published = str(metadata.get("publication_date") or "")
    first_day = edtf_first_day(published)
    full = first_day is not None and FULL_DATE.match(published)
    full_date = first_day.isoformat() if full else None
    journal = (source.get("custom_fields") or {}).get("journal:journal") or {}
    issn = str(journal.get("issn") or "").strip().upper()
    item = {
        "title": str(metadata.get("title") or ""),
        "item_id": item_id,
        "publisher": str(metadata.get("publisher") or ""),
        "authors": authors,
        "publication_date": full_date,
        "parent": (
            {"title": str(journal.get("title") or ""), "issn": issn} if ISSN.match(issn) else None
        ),
    }
    return {
        "data_type": data_type((metadata.get("resource_type") or {}).get("id")),
        "access_type": access_type((source.get("access") or {}).get("status")),
        "yop": f"{first_day.year:04d}" if first_day else UNKNOWN_YOP,
        "doi": doi.lower() if doi else None,
        "author_ids": sorted(set(orcids)),
        "item": item,
    }


def unknown(recid: str) -> dict:
    """The description of a record the index no longer has."""
    return {
        "data_type": "Unspecified",
        "access_type": "Open",
        "yop": UNKNOWN_YOP,
        "doi": None,
        "author_ids": [],
        "item": {
            "title": "",
            "item_id": {"Proprietary": f"{platform_id()}:{recid}"},
            "publisher": "",
            "authors": [],
            "publication_date": None,
            "parent": None,
        },
    }


class ItemLookup:
    """``recid`` -> :func:`describe` of the record, in chunks, with a bounded cache."""

    def __init__(self, cache_size: int = 20000):
        self.cache = LRU(cache_size)

    def describe(self, recids: Iterable[str]) -> dict[str, dict]:
        """Descriptions of the recids (records the index lacks get :func:`unknown`)."""
        found, missing = self.cache.split(recids)
        for chunk in chunks(missing, CHUNK):
            for source in records_by_recid(chunk, SOURCE_FIELDS):
                description = describe(source)
                recid = str(source.get("id"))
                found[recid] = description
                self.cache.put(recid, description)
            for recid in chunk:
                if recid not in found:
                    found[recid] = unknown(recid)
        return found
