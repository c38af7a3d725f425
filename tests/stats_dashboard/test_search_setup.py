"""``invenio community-stats setup`` on a site whose indices already exist."""

from datetime import UTC, datetime

from invenio_rdm_records.records.api import RDMRecord
from invenio_search import current_search_client

from invenio_stats_dashboard.cli import cli
from invenio_stats_dashboard.core.indices import prefixed, record_class_alias
from invenio_stats_dashboard.search.setup import package_templates


def _indices_behind(alias: str) -> set[str]:
    return set(current_search_client.indices.get_alias(name=alias))


def test_setup_is_idempotent_and_touches_only_its_own(app, search):
    runner = app.test_cli_runner()
    prefix = app.config["SEARCH_INDEX_PREFIX"]
    assert prefix  # the test site shares its cluster under a prefix
    records_alias = record_class_alias(RDMRecord)
    before_records = _indices_behind(records_alias)
    names = sorted(package_templates())
    assert prefixed("stats-community-events-v1.0.0") in names
    assert all(name.startswith(prefix) for name in names)
    # a site that installed the package after `invenio index init`: no templates, no indices
    for name in names:
        current_search_client.indices.delete_index_template(name=name, ignore=[404])
    current_search_client.indices.delete(
        index=prefixed("stats-*"), ignore=[404], expand_wildcards="all"
    )
    before = set(current_search_client.indices.get(index="*", expand_wildcards="all"))

    result = runner.invoke(cli, ["setup"])
    assert result.exit_code == 0, result.output
    assert f"Index templates put: {len(names)}" in result.output
    for name in names:
        assert current_search_client.indices.exists_index_template(name=name)
    year = datetime.now(UTC).year
    events = prefixed("stats-community-events")
    assert _indices_behind(events) == {f"{events}-{year}"}
    # the bookmark aliases get their one fixed index, no stray yearly twin
    assert _indices_behind(prefixed("stats-bookmarks-community")) == {
        prefixed("stats-bookmarks-community-v1")
    }
    assert _indices_behind(prefixed("stats-bookmarks-reindexing")) == {
        prefixed("stats-bookmarks-reindexing-v1.0.0")
    }
    created = set(current_search_client.indices.get(index="*", expand_wildcards="all")) - before
    assert created and all(name.startswith(prefix) for name in created)
    assert not any(name.endswith(f"bookmarks-community-{year}") for name in created)

    again = runner.invoke(cli, ["setup"])
    assert again.exit_code == 0, again.output
    assert "Indices created: 0" in again.output
    assert _indices_behind(events) == {f"{events}-{year}"}
    # the site's own indices are untouched (no second index under the records alias)
    assert _indices_behind(records_alias) == before_records
