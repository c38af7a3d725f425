"""The Knowledge Commons custom fields the importer reads, defined as the live site does.

Records carry the legacy (CORE) metadata under the ``hclegacy`` namespace and
communities that were Commons groups carry ``kcr:commons_group_id``. All are
mapped ``text`` on the real site, which is why the importer never relies on
exact-match queries against them (see docs/update-created-dates.md).

A site registers them with::

    RDM_NAMESPACES = {**RDM_NAMESPACES, **KC_RECORD_NAMESPACES}
    RDM_CUSTOM_FIELDS = [*RDM_CUSTOM_FIELDS, *KC_RECORD_CUSTOM_FIELDS]
    COMMUNITIES_NAMESPACES = {**COMMUNITIES_NAMESPACES, **KC_COMMUNITY_NAMESPACES}
    COMMUNITIES_CUSTOM_FIELDS = [*COMMUNITIES_CUSTOM_FIELDS, *KC_COMMUNITY_CUSTOM_FIELDS]
"""

from invenio_records_resources.services.custom_fields import BaseCF, TextCF
from marshmallow import Schema, fields
from marshmallow_utils.fields import SanitizedUnicode


class _GroupForDepositSchema(Schema):
    group_name = SanitizedUnicode()
    group_identifier = SanitizedUnicode()


class GroupsForDepositCF(BaseCF):
    """List of ``{group_name, group_identifier}`` objects, both mapped ``text``."""

    @property
    def mapping(self) -> dict:
        """Search mapping: an object with two text properties."""
        return {
            "type": "object",
            "properties": {
                "group_name": {"type": "text"},
                "group_identifier": {"type": "text"},
            },
        }

    @property
    def field(self):
        """Marshmallow field: a list of group objects."""
        return fields.List(fields.Nested(_GroupForDepositSchema))


KC_RECORD_NAMESPACES = {"hclegacy": "https://hcommons.org/schemas/hclegacy/"}
KC_COMMUNITY_NAMESPACES = {"kcr": "https://works.hcommons.org/schemas/kcr/"}

KC_RECORD_CUSTOM_FIELDS = [
    TextCF(name="hclegacy:record_creation_date"),
    TextCF(name="hclegacy:previously_published"),
    GroupsForDepositCF(name="hclegacy:groups_for_deposit"),
]

KC_COMMUNITY_CUSTOM_FIELDS = [
    TextCF(name="kcr:commons_group_id"),
    TextCF(name="kcr:commons_group_name"),
    TextCF(name="kcr:commons_instance"),
]


def kc_custom_fields_config() -> dict:
    """The four settings that register the KC fields next to InvenioRDM's own.

    For an ``invenio.cfg``: ``globals().update(kc_custom_fields_config())``.
    """
    from invenio_communities.config import COMMUNITIES_NAMESPACES
    from invenio_rdm_records.config import RDM_CUSTOM_FIELDS, RDM_NAMESPACES

    return {
        "RDM_NAMESPACES": {**RDM_NAMESPACES, **KC_RECORD_NAMESPACES},
        "RDM_CUSTOM_FIELDS": [*RDM_CUSTOM_FIELDS, *KC_RECORD_CUSTOM_FIELDS],
        "COMMUNITIES_NAMESPACES": {**COMMUNITIES_NAMESPACES, **KC_COMMUNITY_NAMESPACES},
        "COMMUNITIES_CUSTOM_FIELDS": [*KC_COMMUNITY_CUSTOM_FIELDS],
    }


def put_custom_field_mappings() -> None:
    """Add the mappings of every configured custom field to the live indices.

    Same effect as ``invenio rdm-records custom-fields init`` followed by
    ``invenio communities custom-fields init``, for use by tests and the demo.
    """
    from flask import current_app
    from invenio_communities.proxies import current_communities
    from invenio_rdm_records.proxies import current_rdm_records_service
    from invenio_records_resources.services.custom_fields.mappings import Mapping
    from invenio_search import current_search_client
    from invenio_search.engine import dsl

    from invenio_stats_dashboard.core.indices import prefixed

    targets = [
        (
            current_app.config.get("RDM_CUSTOM_FIELDS", []),
            [
                current_rdm_records_service.config.record_cls,
                current_rdm_records_service.config.draft_cls,
            ],
        ),
        (
            current_app.config.get("COMMUNITIES_CUSTOM_FIELDS", []),
            [current_communities.service.config.record_cls],
        ),
    ]
    for available, record_classes in targets:
        properties = Mapping.properties_for_fields(None, available)
        if not properties:
            continue
        for cls in record_classes:
            index = dsl.Index(prefixed(cls.index._name), using=current_search_client)
            index.put_mapping(body={"properties": properties})
