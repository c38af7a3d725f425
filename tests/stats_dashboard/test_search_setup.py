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


def test_no_stray_bookmark_indices_after_setup_and_a_full_run(
    running_app, community_factory, record_factory, usage_events, search_clear
):
    """Only the two fixed bookmark indices exist after setup and every command of the job.

    Their templates match ``<alias>-*``, so a write to a dated name (or a setup that treated
    them like the yearly aliases) would leave an empty ``stats-bookmarks-*-YYYY`` index
    that ``destroy-indices`` then lists.
    """
    from invenio_stats_dashboard.demo.factories import UsageEvent

    runner = running_app.app.test_cli_runner()
    current_search_client.indices.delete(
        index=prefixed("stats-*"), ignore=[404], expand_wildcards="all"
    )
    community = community_factory("stray-check")
    record = record_factory(communities=[community], files={"a.pdf": 100})
    now = datetime.now(UTC)
    usage_events([UsageEvent(record, now, 1), UsageEvent(record, now, 2, file_key="a.pdf")])
    for command in (
        ["setup"],
        ["community-events", "generate"],
        ["usage-events", "migrate"],
        ["aggregate", "--eager"],
        ["setup"],
    ):
        result = runner.invoke(cli, command)
        assert result.exit_code == 0, (command, result.output)

    bookmarks = set(
        current_search_client.indices.get(
            index=prefixed("stats-bookmarks-*"), expand_wildcards="all", ignore_unavailable=True
        )
    )
    assert bookmarks == {
        prefixed("stats-bookmarks-community-v1"),
        prefixed("stats-bookmarks-reindexing-v1.0.0"),
    }
    # the bookmark templates match their one index only: no dated name can join the alias
    templates = package_templates()
    for name, fixed in (
        ("stats-bookmarks-community-v1.0.0", "stats-bookmarks-community-v1"),
        ("stats-bookmarks-reindexing-v1.0.0", "stats-bookmarks-reindexing-v1.0.0"),
    ):
        assert templates[prefixed(name)]["index_patterns"] == [prefixed(fixed)]
    listed = runner.invoke(cli, ["destroy-indices"], input="n\n").output
    assert prefixed("stats-bookmarks-community-v1") in listed
    assert "bookmarks-community-20" not in listed and "bookmarks-reindexing-20" not in listed
