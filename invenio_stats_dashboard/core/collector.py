"""Pausing Python's cyclic garbage collector around big, acyclic builds."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a result is built.

    A year of documents is millions of small objects, and a result adds hundreds of
    thousands of lists: each collection pass would walk them all, again and again (it
    tripled the time of a busy community's usage category). Documents and results hold
    no reference cycles; reference counting frees them as usual.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
