"""Settings an instance needs on the embedded search engine (tests, demo, benchmarks)."""


def embedded_engine_config() -> dict:
    """InvenioRDM's record searches without the ``publication_date`` facet.

    osmem-server rejects that facet (a ``date_histogram`` with a ``format`` on a
    ``date_range`` field); everything else is InvenioRDM's own configuration. For an
    ``invenio.cfg``: ``globals().update(embedded_engine_config())``.
    """
    from invenio_rdm_records import config as rdm_config

    config = {}
    for key in ("RDM_SEARCH", "RDM_SEARCH_DRAFTS"):
        search = dict(getattr(rdm_config, key))
        search["facets"] = [name for name in search["facets"] if name != "publication_date"]
        config[key] = search
    return config
