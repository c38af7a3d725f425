"""Community statistics for InvenioRDM."""

from .ext import InvenioStatsDashboard

__version__ = "0.1.0"

__all__ = ("InvenioStatsDashboard", "__version__")
