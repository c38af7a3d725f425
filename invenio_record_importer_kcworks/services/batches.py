"""The batch loop shared by the records and the communities repair.

One place for: cutting a stream into batches, logging "Processing batch i of n",
reporting progress, the health check after each batch (with one pause and retry), the
delay between batches, and stopping early.
"""

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import batched

from flask import current_app

from .health import healthy_after_pause

ProgressCallback = Callable[[int, int, dict], None]
"""``progress(processed, total, stats)``, called after every batch."""


@dataclass
class BatchLoop:
    """How to run one repair: sizes, names for messages, the health check, progress.

    ``noun`` names the items in messages ("records"); ``stop_key`` is the statistics
    key that receives the number of items processed when the run stops early.
    """

    noun: str
    stop_key: str
    batch_size: int
    total: int
    health_check: Callable[[], dict]
    progress: ProgressCallback | None = None

    def run(self, items: Iterable, process: Callable[[list], bool], stats: dict) -> dict:
        """Feed ``items`` to ``process`` in batches.

        After every batch but the last (dry runs included: their scans load the cluster
        too), the cluster's health is checked before the next one, then the loop sleeps
        ``RECORD_IMPORTER_BATCH_DELAY`` seconds. If the cluster stays unhealthy after
        ``RECORD_IMPORTER_HEALTH_CHECK_PAUSE`` seconds, the loop stops and sets
        ``stats["stopped_early"]`` and ``stats[self.stop_key]``.
        """
        batches = batched(items, self.batch_size)
        stats.setdefault("stopped_early", False)
        try:
            self._loop(batches, process, stats)
        finally:
            close = getattr(items, "close", None)
            if close is not None:  # a stream stopped early releases its scroll now
                close()
        return stats

    def _loop(self, batches, process, stats: dict) -> None:
        logger = current_app.logger
        delay = current_app.config["RECORD_IMPORTER_BATCH_DELAY"]
        total_batches = max(1, -(-self.total // self.batch_size))
        batch = next(batches, None)
        number = processed = 0
        while batch is not None:
            number += 1
            logger.info(
                f"Processing batch {number} of {max(total_batches, number)} "
                f"({len(batch)} {self.noun})"
            )
            process(list(batch))
            processed += len(batch)
            if self.progress is not None:
                self.progress(processed, max(self.total, processed), stats)
            following = next(batches, None)
            if following is not None:
                if not healthy_after_pause(
                    self.health_check, processed, max(self.total, processed), self.noun
                ):
                    stats["stopped_early"] = True
                    stats[self.stop_key] = processed
                    break
                if delay:
                    time.sleep(delay)
            batch = following
