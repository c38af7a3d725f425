"""Fault injection for the fault suite: a proxy in front of the real search engine.

:class:`FaultProxy` forwards every HTTP request to the engine unchanged, and on demand:

- ``pause()`` / ``resume()``: requests wait unanswered, as with a paused (SIGSTOP) engine;
- ``down()`` / ``up()``: the port refuses connections and open ones are cut, as when the
  engine is killed, until it is restarted (the data survives, as on a real cluster);
- ``fail_next(n, status)``: the next ``n`` requests get that answer (429, 502-504);
- ``kill_at_write(n, pid)``: SIGKILL ``pid`` when its ``n``-th write request arrives,
  before the engine sees it (a ``kill -9`` at a chosen batch);
- ``track_refresh``: every read (search, count) of an index written since its last
  refresh is recorded in ``violations``: a real OpenSearch does not show those writes
  yet, while the embedded engine does (so code that forgets a refresh passes there).

Commands under test run as child processes pointed at the proxy (``instance_config``),
the test itself talks to the engine directly.
"""

from __future__ import annotations

import fnmatch
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

READS = ("_search", "_count", "_msearch")
WRITES = ("_bulk", "_doc", "_create", "_update", "_delete_by_query", "_update_by_query")


class FaultProxy:
    """An HTTP proxy to ``upstream`` (``{"host": ..., "port": ...}``) with switchable faults."""

    def __init__(self, upstream: dict):
        self.upstream = (upstream["host"], int(upstream["port"]))
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.host = "127.0.0.1"
        self._running = threading.Event()
        self._running.set()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._failures: list[int] = []
        self._kill: tuple[int, int] | None = None
        self.writes = 0
        self.requests = 0
        self.track_refresh = False
        self.dirty: dict[str, str] = {}
        self.violations: list[str] = []
        self.held: list[tuple[float, str, str]] = []
        """Requests that came in while paused: (monotonic time, method, path)."""
        self._server: ThreadingHTTPServer | None = None
        self.up()

    # --- switches -----------------------------------------------------------------------

    @property
    def hosts(self) -> list[dict]:
        """``SEARCH_HOSTS`` for a child process."""
        return [{"host": self.host, "port": self.port}]

    def pause(self) -> None:
        """Hold every request until :meth:`resume`."""
        self._running.clear()

    def resume(self) -> None:
        """Answer again (held requests go on, unless their client gave up)."""
        self._running.set()

    def down(self) -> None:
        """Refuse connections and cut open ones (the engine was killed)."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        with self._lock:
            for sock in list(self._sockets):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def up(self) -> None:
        """Listen again on the same port (the engine was restarted)."""
        proxy = self

        class Handler(_Forwarder):
            owner = proxy

        server = ThreadingHTTPServer((self.host, self.port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._server = server

    def fail_next(self, count: int, status: int = 503) -> None:
        """Answer the next ``count`` requests with ``status`` instead of forwarding them."""
        with self._lock:
            self._failures.extend([status] * count)

    def kill_at_write(self, nth: int, pid: int) -> None:
        """SIGKILL ``pid`` when the ``nth`` write request from now arrives (not forwarded)."""
        with self._lock:
            self._kill = (self.writes + nth, pid)

    def refreshed_all(self) -> None:
        """Forget what was written so far (the test refreshed everything)."""
        with self._lock:
            self.dirty.clear()
            self.violations.clear()

    @contextmanager
    def refreshes_checked(self) -> Iterator[list[str]]:
        """Track unrefreshed reads during the block; yields the list of violations.

        Everything is refreshed first (through the engine itself), so only what the block
        writes counts.
        """
        connection = http.client.HTTPConnection(*self.upstream, timeout=120)
        try:
            connection.request("POST", "/_refresh")
            connection.getresponse().read()
        finally:
            connection.close()
        self.refreshed_all()
        self.track_refresh = True
        try:
            yield self.violations
        finally:
            self.track_refresh = False

    def close(self) -> None:
        """Stop listening and let held requests go."""
        self.resume()
        self.down()

    # --- bookkeeping (called by the handler) ----------------------------------------------

    def _before(self, method: str, path: str, query: dict, body: bytes) -> int | None:
        """Account for one request; an HTTP status to answer instead, or None to forward."""
        if not self._running.is_set():
            self.held.append((time.monotonic(), method, path))
            self._running.wait()
        parts = [unquote(p) for p in path.strip("/").split("/") if p]
        endpoint = next((p for p in parts if p.startswith("_")), "")
        is_write = endpoint in WRITES and method in ("POST", "PUT", "DELETE")
        with self._lock:
            self.requests += 1
            if is_write:
                self.writes += 1
                if self._kill is not None and self.writes >= self._kill[0]:
                    pid = self._kill[1]
                    self._kill = None
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    return 599
            if self._failures:
                return self._failures.pop(0)
            if self.track_refresh:
                self._track(method, parts, endpoint, query, body, is_write)
        return None

    def _track(self, method, parts, endpoint, query, body, is_write) -> None:
        targets = parts[0].split(",") if parts and not parts[0].startswith("_") else ["*"]
        if endpoint == "_refresh":
            for name in list(self.dirty):
                if _matches(name, targets):
                    del self.dirty[name]
            return
        if is_write:
            if query.get("refresh", ["false"])[0] in ("", "true", "wait_for"):
                return
            if endpoint == "_bulk":
                written = set(_bulk_indices(body, None if targets == ["*"] else targets[0]))
            else:
                written = set(targets)
            for name in written:
                self.dirty[name] = f"{method} /{'/'.join(parts)}"
            return
        if endpoint in READS and method in ("GET", "POST") and "scroll" not in parts:
            if not self.dirty:
                return
            concrete = self._concrete(targets)
            for name, how in self.dirty.items():
                if name in concrete if concrete is not None else _matches(name, targets):
                    self.violations.append(
                        f"read /{'/'.join(parts)} of {name}, written by {how} since its refresh"
                    )

    def _concrete(self, targets: list[str]) -> set[str] | None:
        """The concrete indices a read of ``targets`` reaches (aliases and patterns resolved
        by the engine), or None when the engine cannot say."""
        connection = http.client.HTTPConnection(*self.upstream, timeout=30)
        try:
            path = f"/{','.join(targets)}/_settings?ignore_unavailable=true&allow_no_indices=true"
            connection.request("GET", path)
            answer = connection.getresponse()
            data = answer.read()
            if answer.status != 200:
                return None
            return set(json.loads(data))
        except (OSError, ValueError, http.client.HTTPException):
            return None
        finally:
            connection.close()


def _matches(index: str, targets: list[str]) -> bool:
    """True when a request naming ``targets`` (names, aliases, patterns) reaches ``index``."""
    for target in targets:
        target = target.lstrip("-")
        if target in ("*", "_all") or index == target or fnmatch.fnmatchcase(index, target):
            return True
        # an alias over dated or versioned indices (``events-stats-record-view`` reaches
        # ``events-stats-record-view-2024-01``), or an index under its alias's name
        if index.startswith(target + "-") or target.startswith(index + "-"):
            return True
    return False


def _bulk_indices(body: bytes, default: str | None) -> list[str]:
    """The indices named by a bulk body's action lines."""
    names = []
    lines = body.decode("utf-8").splitlines()
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        index += 1
        if not line:
            continue
        action = json.loads(line)
        op, meta = next(iter(action.items()))
        names.append(meta.get("_index", default))
        if op != "delete":
            index += 1  # the source (or the update's doc) follows
    return [n for n in names if n]


class _Forwarder(BaseHTTPRequestHandler):
    owner: FaultProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def setup(self):
        super().setup()
        with self.owner._lock:
            self.owner._sockets.add(self.connection)
        self.upstream: http.client.HTTPConnection | None = None

    def finish(self):
        with self.owner._lock:
            self.owner._sockets.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def _handle(self):
        try:
            self._forward()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (a timeout, a kill)

    def _forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        status = self.owner._before(self.command, url.path, parse_qs(url.query, True), body)
        if status == 599:  # the client was killed: let its connection drop
            self.close_connection = True
            return
        if status is not None:
            payload = json.dumps({"error": {"reason": "injected fault"}, "status": status})
            self._reply(status, [("content-type", "application/json")], payload.encode())
            return
        for attempt in (1, 2):
            if self.upstream is None:
                self.upstream = http.client.HTTPConnection(*self.owner.upstream, timeout=600)
            headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
            try:
                self.upstream.request(self.command, self.path, body=body or None, headers=headers)
                answer = self.upstream.getresponse()
                data = answer.read()
                break
            except (OSError, http.client.HTTPException):
                self.upstream.close()
                self.upstream = None
                if attempt == 2:
                    raise
        skip = {"transfer-encoding", "connection", "content-length"}
        headers = [h for h in answer.getheaders() if h[0].lower() not in skip]
        self._reply(answer.status, headers, data)

    def _reply(self, status: int, headers: list, data: bytes) -> None:
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle


# --- child processes ---------------------------------------------------------------------


def instance_config(instance: Path, config: dict) -> Path:
    """Write ``invenio.cfg`` for a child process (``INVENIO_INSTANCE_PATH``).

    As the test app: Knowledge Commons' custom fields and the embedded engine's
    workarounds (``demo.config``), then ``config``.
    """
    instance.mkdir(parents=True, exist_ok=True)
    lines = [
        "from invenio_record_importer_kcworks.custom_fields import kc_custom_fields_config\n",
        "from invenio_stats_dashboard.demo.config import embedded_engine_config\n",
        "globals().update(kc_custom_fields_config())\n",
        "globals().update(embedded_engine_config())\n",
        *(f"{key} = {value!r}\n" for key, value in config.items()),
    ]
    (instance / "invenio.cfg").write_text("".join(lines))
    return instance


def child_config(app, proxy: FaultProxy, **extra) -> dict:
    """The test app's services for a child process, its search engine behind ``proxy``."""
    redis_url = app.config["CACHE_REDIS_URL"]
    return {
        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "SEARCH_HOSTS": proxy.hosts,
        "SEARCH_INDEX_PREFIX": app.config.get("SEARCH_INDEX_PREFIX", ""),
        "CACHE_REDIS_URL": redis_url,
        "BROKER_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "CELERY_RESULT_BACKEND": redis_url,
        "AUDIT_LOGS_ENABLED": False,
        "JOBS_LOGGING": False,
        "COMMUNITY_STATS_CACHE_WARM_AFTER_AGGREGATION": False,
        **extra,
    }


def invenio(instance: Path, *args: str, **config: str) -> subprocess.Popen:
    """Start ``invenio <args>`` (the installed script) with that instance; output piped.

    ``config`` overrides settings for this run (``INVENIO_<NAME>`` variables).
    """
    script = Path(sys.executable).with_name("invenio")
    env = {**os.environ, "INVENIO_INSTANCE_PATH": str(instance)}
    env.update({f"INVENIO_{key}": value for key, value in config.items()})
    return subprocess.Popen(
        [str(script), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finished(process: subprocess.Popen, timeout: float = 300) -> tuple[int, str, str]:
    """``(exit code, stdout, stderr)`` of a child once it ends."""
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def wait_until(condition, timeout: float = 120, what: str = "condition") -> None:
    """Poll ``condition()`` until true."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def killed_at_a_write(proxy: FaultProxy, instance: Path, args, seed: int, most: int):
    """Run ``invenio <args>`` and SIGKILL it at its n-th write request, n drawn from
    ``1..most`` with ``seed``; returns ``(n, pid)`` once it is dead."""
    process = invenio(instance, *args)
    nth = random.Random(seed).randint(1, most)
    proxy.kill_at_write(nth, process.pid)
    code, out, err = finished(process)
    assert code == -signal.SIGKILL, (nth, out, err)
    return nth, process.pid


def wait_for_writes(proxy: FaultProxy, process: subprocess.Popen, count: int) -> None:
    """Until the engine got ``count`` write requests (or the process ended)."""
    wait_until(lambda: proxy.writes >= count or process.poll() is not None, what="the writes")


def paused_mid_run(proxy: FaultProxy, process: subprocess.Popen, after_writes: int = 2):
    """Pause the engine once ``process`` made ``after_writes`` writes; its end, then resume.

    Returns ``(exit code, stdout, stderr)``. The engine stays paused until the process
    ends on its own (``finished``'s own timeout would fail the test otherwise).
    """
    wait_for_writes(proxy, process, after_writes)
    proxy.held.clear()
    proxy.pause()
    try:
        return finished(process, timeout=180)
    finally:
        proxy.resume()


def started_together(proxy: FaultProxy, instance: Path, *args: str) -> list[tuple[int, str, str]]:
    """Two runs of ``invenio <args>`` let go at the same moment; their results, by exit code.

    Both start while the engine is paused, so both wait on their first request, then
    race for the run lock when it answers again.
    """
    proxy.pause()
    try:
        first, second = invenio(instance, *args), invenio(instance, *args)
        time.sleep(8)
    finally:
        proxy.resume()
    return sorted([finished(first), finished(second)], key=lambda result: result[0])


def error_lines(err: str) -> list[str]:
    """The ``Error:`` lines a command printed."""
    return [line for line in err.splitlines() if line.startswith("Error:")]


def committed_user(app, database, user_fixture, email: str):
    """A user committed and indexed (a child process sees only committed rows)."""
    from invenio_users_resources.proxies import current_users_service

    user = user_fixture(email=email, password="password", active=True, confirmed=True)
    user.create(app, database)
    current_users_service.indexer.process_bulk_queue()
    return user
