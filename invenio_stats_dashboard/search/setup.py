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
from pathlib import Path

from flask import current_app
from invenio_search import current_search

from ..core import indices
from ..core.days import utc_today
from ..core.engine import search_client

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
    prefix = indices.prefixed("")
    templates = {}
    for name, path in current_search.register_templates(TEMPLATES_MODULE).items():
        body = json.loads(Path(path).read_text().replace(PREFIX_PLACEHOLDER, prefix))
        templates[indices.prefixed(name)] = body
    return templates


def _first_index(body: dict, year: int) -> tuple[str, str] | None:
    """``(alias, index to create when the alias is missing)`` of a template, or None.

    Our aliases sit over yearly indices ``<alias>-YYYY``, except the bookmark aliases,
    each over one fixed index. Templates without an alias (enriched usage events,
    created month by month) give None.
    """
    aliases = list(body.get("template", {}).get("aliases", {}))
    if len(aliases) != 1:
        return None
    alias = aliases[0]
    fixed = indices.SINGLE_INDEX_ALIASES.get(indices.unprefixed(alias))
    if fixed is not None:
        return alias, indices.prefixed(fixed)
    if body.get("index_patterns") == [f"{alias}-*"]:
        return alias, f"{alias}-{year}"
    return None


def setup_search(create_indices: bool = True) -> SetupReport:
    """Put this package's templates; create the current year's index of missing aliases."""
    report = SetupReport()
    client = search_client
    year = utc_today().year
    for name, body in sorted(package_templates().items()):
        client.indices.put_index_template(name=name, body=body)
        report.templates.append(name)
        first = _first_index(body, year)
        if not create_indices or first is None:
            continue
        alias, index = first
        if client.indices.exists_alias(name=alias):
            report.existing_aliases.append(alias)
            continue
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


def indices_to_destroy() -> list[str]:
    """The existing concrete indices of this package (``DESTROY_PATTERNS``), sorted."""
    found: set[str] = set()
    for pattern in indices.destroy_patterns():
        response = search_client.indices.get(
            index=pattern, expand_wildcards="all", ignore_unavailable=True
        )
        found.update(response)
    return sorted(found)


def destroy_indices(names: list[str], ignore_missing: bool = False) -> list[str]:
    """Delete the given concrete indices one by one; returns those deleted."""
    deleted = []
    for name in names:
        response = search_client.indices.delete(index=name, ignore=[404] if ignore_missing else [])
        if not (isinstance(response, dict) and response.get("status") == 404):
            deleted.append(name)
    return deleted
