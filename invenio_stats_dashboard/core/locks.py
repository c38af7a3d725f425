"""Run locks in Redis that know their holder.

A lock is one Redis key with a time to live; its value says who holds it (host, pid,
what it runs, since when), so a refusal can name the holder. The holder renews the
time to live while it works; a killed holder's lock expires on its own, and a run on
the holder's host takes it over at once when the holder's process is gone (a
``kill -9``), with a notice. :func:`clear_lock` is for the rest (``clear-lock``).
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import psutil
import redis
from flask import current_app

from .days import utc_now

KEY_PREFIX = "invenio-stats-dashboard:"
RENEW_SECONDS = 30.0
"""How often a working holder renews its lock (far below any sensible timeout)."""


class LockHeld(RuntimeError):
    """Another run holds the lock (the message names the holder)."""


class RunDeadlineExceeded(RuntimeError):
    """A run held its lock for longer than ``COMMUNITY_STATS_RUN_DEADLINE`` and stopped."""


def run_deadline() -> float:
    """Seconds a run may hold its lock (``COMMUNITY_STATS_RUN_DEADLINE``; 0: no deadline)."""
    return float(current_app.config.get("COMMUNITY_STATS_RUN_DEADLINE") or 0)


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

    def is_gone(self) -> bool:
        """True when the holder ran on this host and its process no longer runs.

        A process with the holder's pid that started after the lock was taken is another
        program (the pid was reused): the holder is gone too. Holders on other hosts
        cannot be checked: False.
        """
        if self.host != socket.gethostname() or self.pid <= 0:
            return False
        try:
            process = psutil.Process(self.pid)
            if process.status() == psutil.STATUS_ZOMBIE:  # killed, not yet reaped
                return True
            started = process.create_time()
        except psutil.NoSuchProcess:
            return True
        except psutil.Error:
            return False
        try:  # ``since`` is naive UTC
            since = datetime.fromisoformat(self.since).replace(tzinfo=UTC).timestamp()
        except ValueError:
            return False
        return started > since + 1


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


def clear_lock(name: str) -> Holder | None:
    """Delete lock ``name`` whoever holds it; the holder it had (None: it was free)."""
    holder = current_holder(name)
    redis_client().delete(KEY_PREFIX + name)
    return holder


def _take_over(name: str, notice: Callable[[str], None] | None) -> bool:
    """Delete the lock of a holder that is gone (only if it still holds it); True if done."""
    client, key = redis_client(), KEY_PREFIX + name
    with client.pipeline() as pipe:
        try:
            pipe.watch(key)
            raw = pipe.get(key)
            holder = current_holder(name) if raw is not None else None
            if holder is None or not holder.is_gone():
                pipe.unwatch()
                return False
            pipe.multi()
            pipe.delete(key)
            pipe.execute()
        except redis.WatchError:  # it changed hands meanwhile
            return False
    message = f"Took over the {name} lock of {holder.describe()}, which is no longer running."
    (notice or current_app.logger.warning)(message)
    return True


@contextmanager
def run_lock(
    name: str, timeout: int, purpose: str, notice: Callable[[str], None] | None = None
) -> Iterator[Callable[[], None]]:
    """Hold lock ``name`` for the block; raise :class:`LockHeld` if another run holds it.

    The lock lives ``timeout`` seconds unless renewed: the block gets a function that
    renews it, and raises :class:`RunDeadlineExceeded` once the run is past its deadline
    (the caller stops between units of work, so what it finished stays consistent).
    Released at the end of the block, whatever happens. The lock of a holder on this
    host whose process is gone is taken over (``notice`` gets the one line).
    """
    holder = Holder.me(purpose)
    token = json.dumps(holder.__dict__)
    lock = redis_client().lock(KEY_PREFIX + name, timeout=timeout, blocking=False)
    acquired = lock.acquire(blocking=False, token=token)
    if not acquired and _take_over(name, notice):
        acquired = lock.acquire(blocking=False, token=token)
    if not acquired:
        other = current_holder(name)
        who = other.describe() if other else "another run"
        raise LockHeld(
            f"{who} holds the {name} lock; try again when it ends (or, if it is not "
            "running, invenio community-stats clear-lock)."
        )
    deadline, began = run_deadline(), time.monotonic()

    def renew() -> None:
        if deadline and time.monotonic() - began > deadline:
            raise RunDeadlineExceeded(
                f"the {purpose} run stopped at its deadline of {deadline:g} s "
                "(COMMUNITY_STATS_RUN_DEADLINE); what it finished is kept, and the next "
                "run goes on from there."
            )
        lock.extend(timeout, replace_ttl=True)

    try:
        yield renew
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:
            pass


def lock_timeout() -> int:
    """Seconds a run lock lives without renewal (``COMMUNITY_STATS_AGGREGATION_LOCK_TIMEOUT``)."""
    return int(current_app.config.get("COMMUNITY_STATS_AGGREGATION_LOCK_TIMEOUT") or 900)


@contextmanager
def held_while_working(
    name: str, purpose: str, notice: Callable[[str], None] | None = None
) -> Iterator[Callable[[], None]]:
    """:func:`run_lock` with the configured timeout and a cheap ``keep_alive()`` to call often.

    ``keep_alive`` renews the lock at most every :data:`RENEW_SECONDS`, so a command may
    call it after every batch.
    """
    with run_lock(name, lock_timeout(), purpose, notice) as renew:
        last = [time.monotonic()]

        def keep_alive() -> None:
            now = time.monotonic()
            if now - last[0] >= RENEW_SECONDS:
                last[0] = now
                renew()

        yield keep_alive


def held_locks(prefix: str, notice: Callable[[str], None] | None = None) -> list[Holder]:
    """Holders of the locks named ``prefix...``.

    The locks of dead holders on this host are taken over first (with a notice).
    """
    client = redis_client()
    holders = []
    for key in client.scan_iter(match=KEY_PREFIX + prefix + "*", count=1000):
        name = key.decode().removeprefix(KEY_PREFIX)
        if _take_over(name, notice):
            continue
        holder = current_holder(name)
        if holder is not None:
            holders.append(holder)
    return holders


def clear_locks(prefix: str) -> int:
    """Delete every lock named ``prefix...``; how many there were."""
    client = redis_client()
    keys = list(client.scan_iter(match=KEY_PREFIX + prefix + "*", count=1000))
    return client.delete(*keys) if keys else 0


def lock_is_held(name: str) -> bool:
    """True while some run holds lock ``name``."""
    return bool(redis_client().exists(KEY_PREFIX + name))
