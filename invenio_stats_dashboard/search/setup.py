"""Idempotent search setup for sites that already exist.

``invenio index init`` is for fresh sites: on a running site it fails (indices exist), and
``current_search.create(ignore_existing=True)`` adds a second index under every existing
alias, after which record writes fail with "no write index". This module touches only what
belongs to this package: it puts this package's composable index templates and creates,
for each of its yearly aliases that has no index yet, the current year's index. Everything
else on the cluster is left alone, so it is safe to run any number of times.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from flask import current_app
from invenio_search import current_search, current_search_client
from invenio_search.utils import build_alias_name

TEMPLATES_MODULE = "invenio_stats_dashboard.search.index_templates"
PREFIX_PLACEHOLDER = "__SEARCH_INDEX_PREFIX__"


@dataclass
class SetupReport:
    """What ``setup_search`` did."""

    templates: list[str] = field(default_factory=list)
    created_indices: list[str] = field(default_factory=list)
    existing_aliases: list[str] = field(default_factory=list)


def package_templates() -> dict[str, dict]:
    """Index templates of this package, prefix applied, by (prefixed) template name."""
    prefix = current_app.config.get("SEARCH_INDEX_PREFIX") or ""
    templates = {}
    for name, path in current_search.register_templates(TEMPLATES_MODULE).items():
        body = json.loads(Path(path).read_text().replace(PREFIX_PLACEHOLDER, prefix))
        templates[build_alias_name(name)] = body
    return templates


def _yearly_alias(body: dict) -> str | None:
    """The alias of a template whose indices are ``<alias>-YYYY`` (else None)."""
    aliases = list(body.get("template", {}).get("aliases", {}))
    patterns = body.get("index_patterns", [])
    if len(aliases) == 1 and patterns == [f"{aliases[0]}-*"]:
        return aliases[0]
    return None


def setup_search(create_indices: bool = True) -> SetupReport:
    """Put this package's templates; create the current year's index of missing aliases."""
    report = SetupReport()
    client = current_search_client
    year = datetime.now(UTC).year
    for name, body in sorted(package_templates().items()):
        client.indices.put_index_template(name=name, body=body)
        report.templates.append(name)
        alias = _yearly_alias(body)
        if not create_indices or alias is None:
            continue
        if client.indices.exists_alias(name=alias):
            report.existing_aliases.append(alias)
            continue
        index = f"{alias}-{year}"
        if not client.indices.exists(index=index):
            client.indices.create(index=index)
            report.created_indices.append(index)
    return report


_DONE_KEY = "invenio-stats-dashboard-search-setup-done"


def ensure_search_setup() -> None:
    """Run ``setup_search`` once per application process (cheap to call before writes)."""
    extensions = current_app.extensions
    if not extensions.get(_DONE_KEY):
        setup_search()
        extensions[_DONE_KEY] = True
