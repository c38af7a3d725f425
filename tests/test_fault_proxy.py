"""The fault proxy catches what the fault suite relies on it to catch, and the package's
reader and writer get past the transient faults it injects (a real engine behind it)."""

import threading

import pytest
from flask import Flask
from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionError as EngineConnectionError
from opensearchpy.exceptions import TransportError

from invenio_stats_dashboard.core.bulk import bulk_write
from invenio_stats_dashboard.core.paging import search

from .faults import FaultProxy

INDEX = "fault-proxy-test"


@pytest.fixture()
def proxy(search_engine):
    proxy = FaultProxy(search_engine[0])
    direct = OpenSearch(hosts=search_engine)
    direct.indices.delete(index=INDEX, ignore=[404])
    direct.indices.create(index=INDEX)
    yield proxy
    proxy.close()
    direct.indices.delete(index=INDEX, ignore=[404])


def client(proxy, **kwargs):
    return OpenSearch(hosts=proxy.hosts, **kwargs)


def test_a_read_of_an_unrefreshed_write_is_caught(proxy):
    engine = client(proxy)
    proxy.track_refresh = True
    engine.index(index=INDEX, id="1", body={"n": 1})
    engine.search(index=INDEX, body={"query": {"match_all": {}}})
    assert len(proxy.violations) == 1 and f"of {INDEX}" in proxy.violations[0]

    proxy.violations.clear()
    engine.indices.refresh(index=INDEX)
    engine.search(index=INDEX, body={"query": {"match_all": {}}})
    engine.index(index=INDEX, id="2", body={"n": 2}, refresh=True)
    engine.count(index=INDEX)
    bulk_write([{"_index": INDEX, "_id": "3", "n": 3}], client=engine)
    engine.search(index="other-*", body={})  # another index: fine
    assert proxy.violations == []
    engine.search(index=f"{INDEX[:5]}*", body={})  # a pattern reaching it
    assert len(proxy.violations) == 1


def test_injected_answers_reach_the_client(proxy):
    proxy.fail_next(1, 503)
    with pytest.raises(TransportError) as raised:
        client(proxy, max_retries=0).search(index=INDEX, body={})
    assert raised.value.status_code == 503


def test_the_writer_and_the_reader_retry_transient_failures(proxy):
    engine = client(proxy, max_retries=0)
    proxy.fail_next(2, 503)
    assert bulk_write([{"_index": INDEX, "_id": str(n), "n": n} for n in range(5)], client=engine)
    engine.indices.refresh(index=INDEX)
    proxy.fail_next(1, 429)
    assert search(engine, INDEX, {"query": {"match_all": {}}})["hits"]["total"]["value"] == 5

    proxy.down()  # the engine restarts: back after two seconds
    threading.Timer(2, proxy.up).start()
    assert search(engine, INDEX, {"query": {"match_all": {}}})["hits"]["total"]["value"] == 5


def test_a_permanent_failure_is_not_retried_for_ever(proxy):
    app = Flask("retries")
    app.config.update(COMMUNITY_STATS_SEARCH_RETRIES=2, COMMUNITY_STATS_SEARCH_RETRY_MAX_WAIT=1)
    proxy.down()
    with app.app_context(), pytest.raises(EngineConnectionError):
        bulk_write([{"_index": INDEX, "_id": "x"}], client=client(proxy, max_retries=0))
