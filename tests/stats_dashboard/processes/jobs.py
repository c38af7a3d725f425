"""Targets for background-process tests (imported by the worker process)."""

import time


def stubborn(seconds: float, progress=None, should_stop=None) -> dict:
    """Ignore stop requests: only SIGKILL ends it early."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if progress:
            progress(1, 2, step="sleeping")
        time.sleep(0.2)
    return {"slept": seconds}


def failing(progress=None, should_stop=None) -> dict:
    """Fail at once."""
    raise RuntimeError("boom")
