"""The communities a run aggregates: every community in the membership history.

Listing them from the history reads every event (a composite aggregation over the
whole history), a cost that grows with the site rather than with the new work. So the
list is kept on the worker's disk beside the records workspaces
(``COMMUNITY_STATS_WORKSPACE_DIR``) with the moment it was made: the next run adds the
communities of the events written since (with ``COMMUNITY_STATS_RECORDS_EDIT_MARGIN``
of margin for indexing lag and clock skew). The history is listed whole again when the
kept file is missing or unreadable, when fewer events are older than that moment than
when it was made (events deleted or written again), or when a history index it was made
from is gone or was created again.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from ..core.days import to_datetime, utc_now
from ..core.ids import GLOBAL
from ..membership.store import (
    history_community_ids,
    history_events_before,
    history_exists,
    history_indices,
)
from .records.sources import edit_margin
from .records.workspace import workspace_dir

FILE_NAME = "communities.json"


def all_community_ids() -> list[str]:
    """The "global" series and every community with a membership history."""
    ids, _ = history_communities()
    return [GLOBAL, *(c for c in ids if c != GLOBAL)]


def history_communities() -> tuple[list[str], str]:
    """Every community in the history, sorted, and how the list was made.

    ``"full"``: the whole history listed; ``"changes"``: the kept list and the events
    written since; ``"unkept"``: the whole history, nothing kept (no workspace folder).
    """
    folder = workspace_dir()
    if folder is None or not history_exists():
        return history_community_ids(), "unkept"
    path = folder / FILE_NAME
    began = utc_now()
    current = history_indices()
    kept = _read(path)
    if (
        kept is not None
        and kept["indices"].items() <= current.items()
        and history_events_before(kept["older_than"]) == kept["older"]
    ):
        ids = sorted(set(kept["ids"]) | set(history_community_ids(kept["older_than"])))
        how = "changes"
    else:
        ids, how = history_community_ids(), "full"
    older_than = began.replace(microsecond=0) - edit_margin()
    _write(
        path,
        {
            "ids": ids,
            "indices": current,
            "older_than": older_than.isoformat(),
            "older": history_events_before(older_than),
        },
    )
    return ids, how


def _read(path: Path) -> dict | None:
    try:
        kept = json.loads(path.read_text())
        kept["older_than"] = to_datetime(kept["older_than"])
        readable = (
            kept["older_than"] is not None
            and isinstance(kept["ids"], list)
            and isinstance(kept["indices"], dict)
            and isinstance(kept["older"], int)
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return kept if readable else None


def _write(path: Path, kept: dict) -> None:
    """Replace the file at once (a reader never sees half of it, nor two writers' mix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w") as out:
        json.dump(kept, out)
    os.replace(partial, path)
