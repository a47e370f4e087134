"""A real HTTP server on 127.0.0.1 that the test-suite fetches manifests from.

`ManifestServer` runs a `ThreadingHTTPServer` (HTTP/1.1, keep-alive) in a background thread.
Routes are registered per test with `set()`, `hang()`, `drip()` and `short_body()`; every request
is recorded in `requests`. Handlers that wait (a `delay`, a hang, a drip) wake up on `release()`,
`reset()` and `stop()`, so no handler thread outlives the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import email.utils
import hashlib
import http.server
import socket
import threading
import time
from types import TracebackType
from typing import Any, Literal

__all__ = ["ManifestServer", "RecordedRequest"]

# Declared length of a dripped body: far more than any test waits for.
_DRIP_LENGTH = 1_000_000
# How long `stop()` waits for each background thread before giving up on it.
_JOIN_TIMEOUT = 5.0

_RequestType = socket.socket | tuple[bytes, socket.socket]


@dataclasses.dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it (header names lower-cased)."""

    method: str
    path: str
    headers: dict[str, str]


@dataclasses.dataclass(frozen=True)
class _Route:
    kind: Literal["normal", "hang", "drip", "short"]
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    delay: float = 0.0
    etag: str | None = None
    last_modified: str | None = None
    last_modified_ts: float | None = None
    bytes_per_second: float = 1.0
    declared_length: int = 0


def _content_type(body: bytes) -> str:
    if body.lstrip().startswith(b"{"):
        return "application/json"
    return "text/plain; charset=utf-8"


def _etag_matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison, as RFC 9110 asks for `If-None-Match`."""
    for candidate in if_none_match.split(","):
        tag = candidate.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


def _not_modified_since(if_modified_since: str, last_modified_ts: float) -> bool:
    try:
        since = email.utils.parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False  # an invalid date is ignored (RFC 9110, 13.1.3)
    return int(last_modified_ts) <= since.timestamp()


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # `ManifestServer.stop()` joins the handler threads itself

    def __init__(self, owner: ManifestServer) -> None:
        self.owner = owner
        self._conn_lock = threading.Lock()
        self._handler_threads: set[threading.Thread] = set()
        self._connections: set[socket.socket] = set()
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request: _RequestType, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name="manifest-server-handler",
            daemon=True,
        )
        with self._conn_lock:
            self._handler_threads.add(thread)
            if isinstance(request, socket.socket):
                self._connections.add(request)
        thread.start()

    def process_request_thread(self, request: _RequestType, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._conn_lock:
                self._handler_threads.discard(threading.current_thread())
                if isinstance(request, socket.socket):
                    self._connections.discard(request)

    def handle_error(self, request: _RequestType, client_address: Any) -> None:
        """Stay quiet: a client that went away mid-answer is routine in these tests."""

    def close_connections(self) -> list[threading.Thread]:
        """Wake handlers blocked reading a kept-alive connection; return the live threads."""
        with self._conn_lock:
            connections = list(self._connections)
            threads = list(self._handler_threads)
        for conn in connections:
            with contextlib.suppress(OSError):  # already closed by its handler
                conn.shutdown(socket.SHUT_RDWR)
        return threads


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30.0  # backstop for an idle kept-alive connection
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Don't log requests to stderr."""

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _answer(self, *, send_body: bool) -> None:
        owner = self.server.owner
        # Take the wake-up event before the request becomes visible in `requests`, so that a
        # test that saw the request and then calls `release()` always wakes this handler.
        wake = owner._wake_event()
        owner._record(
            RecordedRequest(
                method=self.command,
                path=self.path,
                headers={name.lower(): value for name, value in self.headers.items()},
            )
        )
        route = owner._route(self.path)
        if route is None:
            headers = {"Content-Type": "text/plain; charset=utf-8"}
            self._send(404, b"not found\n", headers, send_body)
            return
        if route.kind == "hang":
            wake.wait()
            self.close_connection = True  # released: close without an answer
            return
        if route.kind == "drip":
            self._drip(route, wake)
            return
        if route.kind == "short":
            self.send_response(route.status)
            self.send_header("Content-Type", _content_type(route.body))
            self.send_header("Content-Length", str(route.declared_length))
            self.send_header("Connection", "close")
            self.end_headers()
            if send_body:
                self.wfile.write(route.body)
            self.close_connection = True
            return
        if route.delay > 0:
            wake.wait(route.delay)
        self._answer_route(route, send_body)

    def _answer_route(self, route: _Route, send_body: bool) -> None:
        headers: dict[str, str] = {"Content-Type": _content_type(route.body)}
        if 200 <= route.status < 300:
            if route.etag is not None:
                headers["ETag"] = route.etag
            if route.last_modified is not None:
                headers["Last-Modified"] = route.last_modified
        for name, value in route.headers.items():
            for existing in [key for key in headers if key.lower() == name.lower()]:
                del headers[existing]
            headers[name] = value

        if route.status == 200 and self._not_modified(route):
            del headers["Content-Type"]
            self._send(304, b"", headers, send_body=False)
            return
        self._send(route.status, route.body, headers, send_body)

    def _not_modified(self, route: _Route) -> bool:
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:  # when present, If-Modified-Since is ignored
            return route.etag is not None and _etag_matches(if_none_match, route.etag)
        if_modified_since = self.headers.get("If-Modified-Since")
        if if_modified_since is not None and route.last_modified_ts is not None:
            return _not_modified_since(if_modified_since, route.last_modified_ts)
        return False

    def _send(self, status: int, body: bytes, headers: dict[str, str], send_body: bool) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body and body and status not in (204, 304):
            self.wfile.write(body)

    def _drip(self, route: _Route, wake: threading.Event) -> None:
        self.close_connection = True  # the body never completes
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(_DRIP_LENGTH))
        self.send_header("Connection", "close")
        self.end_headers()
        interval = 1.0 / route.bytes_per_second
        for _ in range(_DRIP_LENGTH):
            if wake.wait(interval):
                return
            try:
                self.wfile.write(b" ")
            except OSError:
                return  # the client went away


class ManifestServer:
    """A threaded HTTP server on 127.0.0.1 with routes set per test.

    Unknown paths answer 404. A route is looked up by the request target as sent, then by its
    path without the query string. `requests` records every request (a hung one too).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._routes: dict[str, _Route] = {}
        self._last_modified: dict[str, float] = {}
        self._wake = threading.Event()
        self._stopping = False
        self.requests: list[RecordedRequest] = []
        self._httpd = _HTTPServer(self)
        self.port: int = self._httpd.server_address[1]
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("ManifestServer already started")
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="manifest-server",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, wake every waiting handler, join all threads and close the socket."""
        with self._lock:
            self._stopping = True
        self.release()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(_JOIN_TIMEOUT)
            self._thread = None
        self.release()
        for thread in self._httpd.close_connections():
            thread.join(_JOIN_TIMEOUT)
        self._httpd.server_close()

    def __enter__(self) -> ManifestServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- routes ------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def set(
        self,
        path: str,
        body: bytes,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
        etag: bool = True,
        last_modified: bool = False,
    ) -> None:
        """Serve `body` at `path`.

        `etag`: send a strong ETag (a hash of the body) and answer a matching `If-None-Match`
        with 304. `last_modified`: send Last-Modified and honour `If-Modified-Since`; each
        `set()` of a path with a new body moves its date forward by at least a second.
        `delay`: wait that long before answering (cut short by `release()` and `reset()`).
        `headers` are added last and replace defaults of the same name.
        """
        _check_path(path)
        if delay < 0:
            raise ValueError("delay must be >= 0")
        lm_ts: float | None = None
        lm_text: str | None = None
        with self._lock:
            previous = self._routes.get(path)
            if last_modified:
                lm_ts = float(int(time.time()))
                before = self._last_modified.get(path)
                if before is not None:
                    unchanged = previous is not None and previous.body == body
                    lm_ts = before if unchanged else max(lm_ts, before + 1)
                self._last_modified[path] = lm_ts
                lm_text = email.utils.formatdate(lm_ts, usegmt=True)
            self._routes[path] = _Route(
                kind="normal",
                body=body,
                status=status,
                headers=dict(headers or {}),
                delay=delay,
                etag=f'"{hashlib.sha256(body).hexdigest()[:32]}"' if etag else None,
                last_modified=lm_text,
                last_modified_ts=lm_ts,
            )

    def hang(self, path: str) -> None:
        """Accept requests for `path` and never answer; on `release()`/`reset()`, just close."""
        _check_path(path)
        with self._lock:
            self._routes[path] = _Route(kind="hang")

    def drip(self, path: str, bytes_per_second: float) -> None:
        """Send headers with a large Content-Length, then one byte at a time until released."""
        _check_path(path)
        if bytes_per_second <= 0:
            raise ValueError("bytes_per_second must be > 0")
        with self._lock:
            self._routes[path] = _Route(kind="drip", bytes_per_second=bytes_per_second)

    def short_body(self, path: str, body: bytes, declared_length: int) -> None:
        """Declare `declared_length` bytes, send only `body`, then close the connection."""
        _check_path(path)
        if declared_length <= len(body):
            raise ValueError("declared_length must exceed len(body)")
        with self._lock:
            self._routes[path] = _Route(kind="short", body=body, declared_length=declared_length)

    def release(self) -> None:
        """Wake every handler waiting on a delay, a hang or a drip."""
        with self._lock:
            event, self._wake = self._wake, threading.Event()
            if self._stopping:
                self._wake.set()
        event.set()

    def reset(self) -> None:
        """Release waiting handlers, forget all routes and recorded requests."""
        self.release()
        with self._lock:
            self._routes.clear()
            self._last_modified.clear()
            self.requests.clear()

    async def wait_for_requests(
        self, count: int = 1, *, timeout: float = 5.0
    ) -> list[RecordedRequest]:
        """Wait (without blocking the event loop) until `count` requests have been recorded."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{len(self.requests)} of {count} requests after {timeout} s")
            await asyncio.sleep(0.005)

    # -- used by the handler -----------------------------------------------------------------

    def _wake_event(self) -> threading.Event:
        with self._lock:
            return self._wake

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _route(self, target: str) -> _Route | None:
        with self._lock:
            route = self._routes.get(target)
            if route is None:
                route = self._routes.get(target.partition("?")[0])
            return route


def _check_path(path: str) -> None:
    if not path.startswith("/"):
        raise ValueError(f"path must start with '/': {path!r}")
