"""``invenio community-stats cache ...``: the API's response cache."""

from __future__ import annotations

import time

import click
from flask.cli import with_appcontext

from ..core.ids import CommunityNotFound, resolve_community_id
from ..core.units import count, duration, size
from .options import community_ids_option, fail, render_table, require_enabled


@click.group(name="cache")
def cache():
    """The API's response cache in Redis: list, inspect, clear, generate, test."""


def _store():
    from ..cache.store import ResponseCache

    return ResponseCache()


def _community(value: str) -> str:
    try:
        return resolve_community_id(value)
    except CommunityNotFound as error:
        raise click.BadParameter(str(error), param_hint="COMMUNITY") from None


@cache.command("clear-all")
@click.option("--yes-i-know", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def clear_all(yes_i_know):
    """Drop every cached answer."""
    from ..cache.service import clear

    require_enabled()
    if not yes_i_know:
        click.confirm("Drop every cached statistics answer?", abort=True)
    click.echo(f"Cleared {clear()} cache entries.")


@cache.command("clear-item")
@click.argument("community")
@click.argument("stat")
@with_appcontext
def clear_item(community, stat):
    """Drop a community's cached answers of one statistic.

    COMMUNITY is a UUID, a slug or ``global``; STAT a query name (e.g.
    ``record-snapshot-category``) or a group (``record_deltas``, ``record_snapshots``,
    ``usage_deltas``, ``usage_snapshots``).
    """
    from ..cache.service import clear, stats_named

    require_enabled()
    community_id = _community(community)
    try:
        stats = stats_named(stat)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="STAT") from None
    removed = clear(community_id, stats)
    click.echo(f"Cleared {removed} cache entries of {stat} for {community}.")


@cache.command("info")
@with_appcontext
def info():
    """Entries, their memory, hits and misses."""
    from ..cache.store import ResponseCache

    require_enabled()
    figures = ResponseCache().info()
    asked = figures["hits"] + figures["misses"]
    rate = f"{100 * figures['hits'] / asked:.1f}%" if asked else "-"
    rows = [
        ("Entries", count(figures["entries"])),
        ("Compressed responses", count(figures["compressed_responses"])),
        ("Memory of both", size(figures["bytes"])),
        ("Hits", count(figures["hits"])),
        ("Misses", count(figures["misses"])),
        ("Hit rate", rate),
        ("Redis memory in use", size(figures["redis_used_memory"])),
        ("Redis", _without_password(figures["url"])),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        click.echo(f"{label.ljust(width)}  {value}")


@cache.command("list")
@click.option("--community-id", default="*", help="Only this community (UUID, slug or global).")
@click.option("--stat", default="*", help="Only this query name.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@with_appcontext
def list_command(community_id, stat, limit):
    """Cached answers: community, query, range, basis and time left (read with SCAN)."""
    from ..cache.store import CacheKey, pattern

    require_enabled()
    if community_id != "*":
        community_id = _community(community_id)
    store = _store()
    rows, total = [], 0
    for key in store.keys(pattern(community_id, stat)):
        total += 1
        if len(rows) < limit:
            parsed = CacheKey.parse(key)
            if parsed is not None:
                rows.append(
                    [
                        parsed.community_id,
                        parsed.stat,
                        parsed.start.isoformat(),
                        parsed.end.isoformat(),
                        parsed.basis,
                        f"{store.ttl(key)}s",
                    ]
                )
    if not total:
        click.echo("No cache entries.")
        return
    click.echo(render_table(["COMMUNITY", "QUERY", "START", "END", "BASIS", "TTL"], rows))
    if total > len(rows):
        click.echo(f"... {total - len(rows)} more (--limit to see them).")


@cache.command("test")
@with_appcontext
def test():
    """Write, read and delete a test entry; report the round trip's time."""
    require_enabled()
    store = _store()
    key = f"stats-dashboard:test:{time.time_ns()}"
    began = time.perf_counter()
    try:
        store.client.set(key, b"ok", ex=60)
        value = store.client.get(key)
        store.client.delete(key)
    except Exception as error:  # noqa: BLE001 - reported, never a traceback
        fail(f"the cache round trip failed: {error}")
    elapsed = (time.perf_counter() - began) * 1000
    if value != b"ok":
        fail("the cache returned another value than the one written")
    click.echo(f"Cache round trip (write, read, delete) succeeded in {elapsed:.1f} ms.")


@cache.command("generate")
@community_ids_option(
    help="Community UUID or slug (repeatable; default: every community and global)."
)
@click.option("--year", type=click.IntRange(2000, 9999), default=None, help="Default: this year.")
@click.option("--async", "run_async", is_flag=True, help="Queue it as a Celery task.")
@with_appcontext
def generate(community_ids, year, run_async):
    """Compute and cache the dashboard's queries of a year for each community."""
    from ..aggregations.service import all_community_ids

    require_enabled()
    ids = community_ids or all_community_ids()
    if run_async:
        from ..cache.tasks import warm_stats_cache

        task = warm_stats_cache.delay(ids, year)
        click.echo(f"Cache generation queued as Celery task {task.id}.")
        return
    from ..cache.service import warm

    began = time.perf_counter()
    counts = warm(ids, year)
    click.echo(
        f"Cached {count(counts['stored'])} answers for {count(len(ids))} communities in "
        f"{duration(time.perf_counter() - began)} ({counts['skipped']} skipped: data not "
        "aggregated through the period's last day yet)."
    )


def _without_password(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
