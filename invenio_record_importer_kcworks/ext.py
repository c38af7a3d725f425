"""Flask extension of the record importer."""

from flask import Flask

from . import config

CONFIG_PREFIX = "RECORD_IMPORTER_"


class InvenioRecordImporterKCWorks:
    """Register the importer's configuration."""

    def __init__(self, app: Flask | None = None):
        """Initialise the extension, now or later through ``init_app``."""
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Set config defaults and register the extension."""
        for key in dir(config):
            if key.startswith(CONFIG_PREFIX):
                app.config.setdefault(key, getattr(config, key))
        app.extensions["invenio-record-importer-kcworks"] = self
