"""``invenio community-stats setup`` on a site whose indices already exist."""

from datetime import UTC, datetime

from invenio_rdm_records.records.api import RDMRecord
from invenio_search import current_search_client

from invenio_stats_dashboard.cli import cli
from invenio_stats_dashboard.search.setup import package_templates


def _indices_behind(alias: str) -> set[str]:
    return set(current_search_client.indices.get_alias(name=alias))


def test_setup_is_idempotent_and_touches_only_its_own(app, search):
    runner = app.test_cli_runner()
    records_alias = RDMRecord.index.search_alias
    before_records = _indices_behind(records_alias)
    names = sorted(package_templates())
    assert "stats-community-events-v1.0.0" in names
    # a site that installed the package after `invenio index init`: no templates, no indices
    for name in names:
        current_search_client.indices.delete_index_template(name=name, ignore=[404])
    current_search_client.indices.delete(index="stats-community-*", ignore=[404])

    result = runner.invoke(cli, ["setup"])
    assert result.exit_code == 0, result.output
    assert f"Index templates put: {len(names)}" in result.output
    for name in names:
        assert current_search_client.indices.exists_index_template(name=name)
    year = datetime.now(UTC).year
    assert current_search_client.indices.exists(index=f"stats-community-events-{year}")
    assert _indices_behind("stats-community-events") == {f"stats-community-events-{year}"}

    again = runner.invoke(cli, ["setup"])
    assert again.exit_code == 0, again.output
    assert "Indices created: 0" in again.output
    assert _indices_behind("stats-community-events") == {f"stats-community-events-{year}"}
    # the site's own indices are untouched (no second index under the records alias)
    assert _indices_behind(records_alias) == before_records
