"""The few vocabulary entries records, communities and deletions need, loaded in seconds.

``invenio rdm-records fixtures`` loads ~16k entries in minutes; tests, the demo and the
benchmarks only need these. Ids follow the real vocabularies so records look real.
"""

from invenio_access.permissions import system_identity
from invenio_pidstore.errors import PIDDoesNotExistError
from invenio_records_resources.proxies import current_service_registry
from invenio_vocabularies.proxies import current_service as vocabulary_service
from invenio_vocabularies.records.api import Vocabulary
from invenio_vocabularies.records.models import VocabularyType
from sqlalchemy.exc import NoResultFound

from ..core.indices import refresh_record_classes

RESOURCE_TYPES = [
    ("dataset", "Dataset", "dataset"),
    ("image", "Image", "image"),
    ("image-photo", "Photo", "image"),
    ("publication", "Publication", "publication"),
    ("publication-article", "Journal article", "publication"),
    ("publication-book", "Book", "publication"),
    ("software", "Software", "software"),
]
LANGUAGES = [("eng", "English"), ("fra", "French"), ("spa", "Spanish"), ("deu", "German")]
LICENSES = [
    ("cc-by-4.0", "Creative Commons Attribution 4.0 International"),
    ("cc0-1.0", "Creative Commons Zero v1.0 Universal"),
    ("mit", "MIT License"),
]
REMOVAL_REASONS = [("spam", "Spam record"), ("retracted", "Record retracted")]
COMMUNITY_TYPES = [("topic", "Topic"), ("organization", "Organization")]
SUBJECTS = [
    ("http://id.worldcat.org/fast/1108176", "FAST-topical", "Science"),
    ("http://id.worldcat.org/fast/958235", "FAST-topical", "History"),
    ("http://id.worldcat.org/fast/997916", "FAST-topical", "Literature"),
]
FUNDERS = [
    ("00k4n6c32", "European Commission", "BE"),
    ("021nxhr62", "National Science Foundation", "US"),
]
AFFILIATIONS = [("01ggx4157", "CERN"), ("05hs6h993", "Michigan State University")]


def _create_type(type_id: str, pid_type: str) -> None:
    if VocabularyType.query.filter_by(id=type_id).one_or_none() is None:
        vocabulary_service.create_type(system_identity, type_id, pid_type)


def _create(service, data: dict, read_id=None) -> None:
    """Create an entry unless it exists, so loading twice is harmless."""
    try:
        service.read(system_identity, read_id or data["id"])
    except (PIDDoesNotExistError, NoResultFound):
        service.create(system_identity, data)


def load_minimal_vocabularies() -> None:
    """Create every entry listed above (idempotent) and refresh the indices."""
    from invenio_db import db

    _create_type("resourcetypes", "rsrct")
    for rid, title, typ in RESOURCE_TYPES:
        _create(
            vocabulary_service,
            {
                "id": rid,
                "type": "resourcetypes",
                "title": {"en": title},
                "icon": "file",
                "tags": ["depositable", "linkable"],
                "props": {
                    "csl": "article",
                    "datacite_general": "Text",
                    "datacite_type": "",
                    "openaire_resourceType": "0001",
                    "openaire_type": "publication",
                    "eurepo": "info:eu-repo/semantics/other",
                    "schema.org": "https://schema.org/CreativeWork",
                    "subtype": rid if "-" in rid else "",
                    "type": typ,
                    "marc21_type": typ,
                    "marc21_subtype": "",
                },
            },
            ("resourcetypes", rid),
        )
    _create_type("languages", "lng")
    for lid, title in LANGUAGES:
        _create(
            vocabulary_service,
            {"id": lid, "type": "languages", "title": {"en": title}, "props": {}, "tags": []},
            ("languages", lid),
        )
    _create_type("licenses", "lic")
    for lid, title in LICENSES:
        _create(
            vocabulary_service,
            {
                "id": lid,
                "type": "licenses",
                "title": {"en": title},
                "props": {"url": f"https://spdx.org/licenses/{lid}", "scheme": "spdx"},
                "tags": ["recommended"],
            },
            ("licenses", lid),
        )
    _create_type("communitytypes", "comtyp")
    for cid, title in COMMUNITY_TYPES:
        _create(
            vocabulary_service,
            {"id": cid, "type": "communitytypes", "title": {"en": title}},
            ("communitytypes", cid),
        )
    _create_type("removalreasons", "rem")
    for rid, title in REMOVAL_REASONS:
        _create(
            vocabulary_service,
            {"id": rid, "type": "removalreasons", "title": {"en": title}, "tags": []},
            ("removalreasons", rid),
        )
    subjects = current_service_registry.get("subjects")
    for sid, scheme, subject in SUBJECTS:
        _create(subjects, {"id": sid, "scheme": scheme, "subject": subject})
    funders = current_service_registry.get("funders")
    for fid, name, country in FUNDERS:
        _create(
            funders,
            {
                "id": fid,
                "name": name,
                "title": {"en": name},
                "country": country,
                "identifiers": [{"identifier": fid, "scheme": "ror"}],
            },
        )
    affiliations = current_service_registry.get("affiliations")
    for aid, name in AFFILIATIONS:
        _create(
            affiliations,
            {
                "id": aid,
                "name": name,
                "title": {"en": name},
                "identifiers": [{"identifier": aid, "scheme": "ror"}],
            },
        )
    db.session.commit()
    refresh_record_classes(Vocabulary)
    for service in (subjects, funders, affiliations):
        refresh_record_classes(service.record_cls)
