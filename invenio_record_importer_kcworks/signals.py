"""Signals of the record importer.

``record_created_dates_updated`` is sent after each committed batch of record
``created`` changes (never in a dry run), with ``sender`` the Flask application and
``changes`` a list of dicts::

    {"record_id": str,          # record (version) UUID
     "parent_id": str,          # parent (concept) UUID
     "old_created": datetime,   # aware, UTC: the database's value before this run
     "new_created": datetime}   # aware, UTC: the value written

Receivers run in the importer's process right after the database commit, before the
batch is reindexed, and must be idempotent: a record whose row an earlier run repaired
but whose search document it left stale (it was killed in between) is sent again when
a later run rewrites the document (``old_created`` then equals ``new_created``). The
importer works without any receiver; an exception raised by a receiver is logged and
does not stop the run.
"""

from blinker import Namespace

_signals = Namespace()

record_created_dates_updated = _signals.signal("record-created-dates-updated")
"""Sent after each committed batch of record ``created`` changes."""
