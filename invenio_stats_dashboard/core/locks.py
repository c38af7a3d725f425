"""Run locks in Redis that know their holder.

A lock is one Redis key with a time to live; its value says who holds it (host, pid,
what it runs, since when), so a refusal can name the holder. The holder renews the
time to live while it works; a killed holder's lock expires on its own.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import redis
from flask import current_app

from .days import utc_now

KEY_PREFIX = "invenio-stats-dashboard:"


class LockHeld(RuntimeError):
    """Another run holds the lock (the message names the holder)."""


@dataclass(frozen=True)
class Holder:
    """Who holds a lock."""

    host: str
    pid: int
    purpose: str
    since: str

    @classmethod
    def me(cls, purpose: str) -> Holder:
        """The current process, now."""
        return cls(socket.gethostname(), os.getpid(), purpose, utc_now().isoformat(" ", "seconds"))

    def describe(self) -> str:
        """``<purpose> (pid P on HOST since YYYY-MM-DD HH:MM:SS UTC)``."""
        return f"{self.purpose} (pid {self.pid} on {self.host} since {self.since} UTC)"


def redis_client() -> redis.Redis:
    """The Redis client of the locks (``CACHE_REDIS_URL``)."""
    return redis.Redis.from_url(current_app.config["CACHE_REDIS_URL"])


def current_holder(name: str) -> Holder | None:
    """Who holds lock ``name`` now, or None."""
    raw = redis_client().get(KEY_PREFIX + name)
    if raw is None:
        return None
    try:
        return Holder(**json.loads(raw))
    except (ValueError, TypeError):
        return Holder("?", 0, name, "?")


@contextmanager
def run_lock(name: str, timeout: int, purpose: str) -> Iterator[Callable[[], None]]:
    """Hold lock ``name`` for the block; raise :class:`LockHeld` if another run holds it.

    The lock lives ``timeout`` seconds unless renewed: the block gets a function that
    renews it. Released at the end of the block, whatever happens.
    """
    holder = Holder.me(purpose)
    token = json.dumps(holder.__dict__)
    lock = redis_client().lock(KEY_PREFIX + name, timeout=timeout, blocking=False)
    if not lock.acquire(blocking=False, token=token):
        other = current_holder(name)
        who = other.describe() if other else "another run"
        raise LockHeld(f"{who} holds the {name} lock; try again when it ends.")
    try:
        yield lambda: lock.extend(timeout, replace_ttl=True)
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:
            pass


def lock_is_held(name: str) -> bool:
    """True while some run holds lock ``name``."""
    return bool(redis_client().exists(KEY_PREFIX + name))
