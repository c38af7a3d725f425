"""Knowledge Commons Works record importer tools: repair of migrated created dates."""

from .ext import InvenioRecordImporterKCWorks

__version__ = "0.1.0"

__all__ = ("InvenioRecordImporterKCWorks", "__version__")
