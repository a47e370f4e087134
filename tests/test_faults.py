"""The fault matrix: every manifest fault at every point where the manifest is read.

Rows are faults (``FAULTS``: a new fault is one more row); columns are the read points
(``READ_POINTS``): the startup load, strict and not strict, the background refresh and
``await cdn.refresh()``, each driven through a real Quart app. Every cell checks that:

* the failure is a ``ManifestError`` whose message names the source and the cause;
* it is reported once: raised to the caller (strict startup, ``cdn.refresh()``), or logged as
  exactly one record on the ``quart_cdn`` logger (lenient startup, background refresh);
* the last good manifest stays in force and URLs keep working;
* the refresh task keeps running, and picks up a good manifest once the fault goes away;
* nothing leaks: no task outlives shutdown, the HTTP client is closed, and the process has
  no more file descriptors open than before (warnings are errors, so an unclosed socket or
  file fails the test too).

Faults the real server on 127.0.0.1 (``manifest_server``) can produce are served by it; real
network faults whose URL can never work (a closed port, a ``.invalid`` host, TLS spoken to a
plain-HTTP port) go out to the network and "go away" through respx; faults no server gives
on demand (a connect timeout, a reset mid-body, a 304 without validators, a redirect from
https to http) are respx side effects.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gzip
import logging
import os
import re
import socket
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
import respx
from _server import ManifestServer
from quart import Quart

from quart_cdn import CDN, FileManifestSource, ManifestError, url_for
from quart_cdn._refresh import ManifestRefresher
from quart_cdn._sources import UrlManifestSource
from quart_cdn._sources.truncation import seal_checksum_lines

DOMAIN = "cdn.example.com"
GOOD_V1 = b"aaaaaaaa11111111  static/js/app.js\n"
GOOD_V2 = b"bbbbbbbb22222222  static/js/app.js\n"
URL_V1 = f"http://{DOMAIN}/static/js/app.js?c=aaaaaaaa11111111"
URL_V2 = f"http://{DOMAIN}/static/js/app.js?c=bbbbbbbb22222222"
MTIME = 1_700_000_000
URL_FALLBACK = f"http://{DOMAIN}/static/js/app.js?t={MTIME}"
TIMEOUT = 0.3
MOCKED_URL = "http://manifest.test/m"


# -- Faults ------------------------------------------------------------------------------------


@dataclasses.dataclass
class Env:
    """What a fault acts on: the real server, a respx route, or a file."""

    server: ManifestServer
    tmp_path: Path
    url: str = ""
    route: respx.Route | None = None

    @property
    def path(self) -> Path:
        return self.tmp_path / "manifest.txt"


@dataclasses.dataclass(frozen=True)
class Fault:
    """One row: how to point the app at a source, break it, and mend it.

    ``kind`` says what serves the manifest: ``server`` (the real server on 127.0.0.1),
    ``respx`` (a respx route; ``url`` may name a real address that ``pass_through``
    reaches while the fault is on) or ``file``. ``cause`` is a regex the error message
    must contain, besides the source.
    """

    id: str
    cause: str
    kind: Literal["server", "respx", "file"]
    inject: Callable[[Env], None]
    url: Callable[[Env], str] | None = None
    config: dict[str, Any] = dataclasses.field(default_factory=dict)
    skip: Callable[[Env], str | None] | None = None


def served(id: str, cause: str, inject: Callable[[ManifestServer], None], **kw: Any) -> Fault:
    """A fault the real server produces at ``/m``."""
    return Fault(id, cause, "server", lambda env: inject(env.server), **kw)


def content(id: str, cause: str, body: bytes, **kw: Any) -> Fault:
    """A body the real server answers ``200`` with."""
    return served(id, cause, lambda server: server.set("/m", body), **kw)


def network(id: str, cause: str, url: Callable[[Env], str]) -> Fault:
    """A real network fault at ``url``; it goes away when respx starts answering there."""

    def inject(env: Env) -> None:
        assert env.route is not None
        env.route.pass_through(True)

    return Fault(id, cause, "respx", inject, url=url)


def mocked(id: str, cause: str, effect: Callable[[httpx.Request], httpx.Response]) -> Fault:
    """A fault respx produces (``effect`` may raise an httpx exception)."""

    def inject(env: Env) -> None:
        assert env.route is not None
        env.route.pass_through(False)
        env.route.mock(return_value=None, side_effect=effect)

    return Fault(id, cause, "respx", inject)


def on_file(id: str, cause: str, inject: Callable[[Path], None], **kw: Any) -> Fault:
    return Fault(id, cause, "file", lambda env: inject(env.path), **kw)


def closed_port(env: Env) -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/m"


class _ResetStream(httpx.AsyncByteStream):
    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield GOOD_V2[:10]
        raise httpx.ReadError("[Errno 104] Connection reset by peer")


def _raise(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def effect(request: httpx.Request) -> httpx.Response:
        raise exc

    return effect


def _unlink(path: Path) -> None:
    path.unlink()


def _make_directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


def _make_fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def _link_to_a_device(path: Path) -> None:
    path.unlink()
    path.symlink_to("/dev/zero")


def _unreadable(path: Path) -> None:
    path.chmod(0)


def _skip_if_readable(env: Env) -> str | None:
    # As root, a mode of 000 does not stop reading: nothing to test then.
    probe = env.tmp_path / "probe"
    probe.write_bytes(b"x")
    probe.chmod(0)
    readable = os.access(probe, os.R_OK)
    probe.chmod(0o644)
    return "this user can read a file with mode 000 (root)" if readable else None


FAULTS = [
    # Network.
    network("refused", r"could not be reached: All connection attempts failed", closed_port),
    network(
        "unresolvable-host",
        r"could not be reached: .*(not known|resolution|No address)|timed out",
        lambda env: "http://manifest.invalid/m",
    ),
    network(
        "tls-to-plain-http",
        r"could not be reached: .*(SSL|TLS|WRONG_VERSION)",
        lambda env: f"https://127.0.0.1:{env.server.port}/m",
    ),
    mocked("connect-timeout", r"timed out \(ConnectTimeout\)", _raise(httpx.ConnectTimeout("x"))),
    served("accept-never-answer", rf"timed out after {TIMEOUT:g} s", lambda s: s.hang("/m")),
    served("drip-forever", rf"timed out after {TIMEOUT:g} s", lambda s: s.drip("/m", 1)),
    mocked(
        "reset-mid-body",
        r"ReadError: \[Errno 104\] Connection reset by peer",
        lambda request: httpx.Response(200, stream=_ResetStream()),
    ),
    served(
        "body-shorter-than-content-length",
        r"broke off mid-answer: .*received 10 bytes, expected 100",
        lambda s: s.short_body("/m", GOOD_V2[:10], 100),
    ),
    # HTTP.
    served("403", r"returned HTTP 403 Forbidden", lambda s: s.set("/m", b"no", status=403)),
    served("404", r"returned HTTP 404 Not Found", lambda s: s.set("/m", b"no", status=404)),
    served("500", r"returned HTTP 500 Internal", lambda s: s.set("/m", b"no", status=500)),
    served(
        "503",
        r"returned HTTP 503 Service Unavailable; ",
        lambda s: s.set("/m", b"busy", status=503),
    ),
    served(
        "503-retry-after",
        r"returned HTTP 503 Service Unavailable \(Retry-After: 120\)",
        lambda s: s.set("/m", b"busy", status=503, headers={"Retry-After": "120"}),
    ),
    mocked(
        "304-without-validators",
        r"answered 304 Not Modified to a request without validators",
        lambda request: httpx.Response(304),
    ),
    served(
        "redirect-loop",
        r"redirected more than 5 times",
        lambda s: s.set("/m", b"", status=302, headers={"Location": "/m"}),
    ),
    dataclasses.replace(
        mocked(
            "https-to-http-redirect",
            r"redirects from https to 'http://manifest.test/m'; refused",
            lambda request: httpx.Response(301, headers={"Location": "http://manifest.test/m"}),
        ),
        url=lambda env: "https://manifest.test/m",
    ),
    served(
        "redirect-to-port-99999",
        r"redirects to 'http://127.0.0.1:99999/m', whose port is out of range",
        lambda s: s.set("/m", b"", status=302, headers={"Location": "http://127.0.0.1:99999/m"}),
    ),
    served(
        "redirect-to-invalid-idna-host",
        r"not a valid (URL|domain name)",
        lambda s: s.set("/m", b"", status=302, headers={"Location": "http://xn--/m"}),
    ),
    # Encodings and cut-short bodies (issue 10).
    served(
        "gzip-without-its-trailer",
        r"sent a gzip body that is cut short",
        lambda s: s.set("/m", gzip.compress(GOOD_V2)[:-8], headers={"Content-Encoding": "gzip"}),
    ),
    served(
        "gzip-gzip-bomb",
        r"larger than the 1024-byte cap",
        lambda s: s.set(
            "/m",
            gzip.compress(gzip.compress(b" " * 1_000_000)),
            headers={"Content-Encoding": "gzip, gzip"},
        ),
        config={"CDN_MANIFEST_MAX_BYTES": 1024},
    ),
    served(
        "three-stacked-encodings",
        r"3 stacked Content-Encodings",
        lambda s: s.set(
            "/m",
            gzip.compress(gzip.compress(gzip.compress(GOOD_V2))),
            headers={"Content-Encoding": "gzip, gzip, gzip"},
        ),
    ),
    served(
        "unknown-encoding",
        r"cannot be decoded: unknown Content-Encoding 'zstd'",
        lambda s: s.set("/m", GOOD_V2, headers={"Content-Encoding": "zstd"}),
    ),
    content("gzip-undeclared", r"is gzip-compressed data, not a manifest", gzip.compress(GOOD_V2)),
    content(
        "checksum-cut-mid-line",
        r"ends in a line without a newline",
        GOOD_V2 + b"cccccccc33333333  static/js/ha",
    ),
    content(
        "sealed-manifest-cut-at-a-line",
        r"does not match its seal \(2 entries announced, 1 arrived",
        seal_checksum_lines(GOOD_V2 + b"cccccccc33333333  static/js/other.js\n")[:-37],
    ),
    # Content.
    content("empty", r"is empty", b""),
    content("whitespace-only", r"is empty", b" \n\t\r\n  \n"),
    content("invalid-json", r"is not valid JSON", b'{"js/app.js": '),
    content("json-list", r"wrong shape.*got list", b'["js/app.js"]'),
    content("json-number", r"wrong shape.*got int", b"42"),
    content("json-wrong-value-type", r"value 5 of type int", b'{"js/app.js": 5}'),
    content("vite-without-file", r"neither 'file'", b'{"src/main.js": {"css": []}}'),
    content("not-utf8", r"is not UTF-8 text", b"\xff\xfe\x00a  static/js/app.js\n"),
    content(
        "over-size-cap",
        r"larger than the 1024-byte cap",
        b"".join(b"%016x  static/f%d.js\n" % (i, i) for i in range(100)),
        config={"CDN_MANIFEST_MAX_BYTES": 1024},
    ),
    served(
        "gzip-over-size-cap-once-decoded",
        r"larger than the 1024-byte cap",
        lambda s: s.set("/m", gzip.compress(b" " * 100_000), headers={"Content-Encoding": "gzip"}),
        config={"CDN_MANIFEST_MAX_BYTES": 1024},
    ),
    content(
        "checksum-not-hex",
        r"line 2 is not a checksum line",
        b"aaaaaaaa11111111  static/js/app.js\nzzzzzzzz  static/js/x.js\n",
    ),
    # Files.
    on_file("file-missing", r"does not exist", _unlink),
    on_file("file-is-directory", r"is a directory", _make_directory),
    on_file("file-unreadable", r"permission denied", _unreadable, skip=_skip_if_readable),
    on_file("file-is-a-fifo", r"is a FIFO \(named pipe\), not a regular file", _make_fifo),
    on_file("file-is-a-device", r"is a character device, not a regular file", _link_to_a_device),
]


# -- Harness -----------------------------------------------------------------------------------


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def eventually(predicate: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    """Poll ``predicate`` (bounded) without sleeping longer than needed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


@dataclasses.dataclass
class Cell:
    fault: Fault
    env: Env
    app: Quart
    cdn: CDN
    caplog: pytest.LogCaptureFixture

    @property
    def refresher(self) -> ManifestRefresher:
        refresher = self.app.extensions["quart_cdn.state"].core.refresher
        assert isinstance(refresher, ManifestRefresher)
        return refresher

    def records(self) -> list[logging.LogRecord]:
        return [
            r for r in self.caplog.records if r.name == "quart_cdn" and r.levelno >= logging.WARNING
        ]

    def inject(self) -> None:
        self.fault.inject(self.env)

    def heal(self, body: bytes) -> None:
        """Make the fault go away: the same source now gives ``body``."""
        env = self.env
        if self.fault.kind == "server":
            env.server.release()  # wake a hung or dripping handler
            env.server.set("/m", body)
        elif self.fault.kind == "respx":
            assert env.route is not None
            env.route.pass_through(False)
            env.route.mock(return_value=httpx.Response(200, content=body), side_effect=None)
        else:
            if env.path.is_dir():
                env.path.rmdir()
            if env.path.exists():
                env.path.chmod(0o644)
            temporary = env.path.with_suffix(".tmp")
            temporary.write_bytes(body)
            os.replace(temporary, env.path)

    async def url(self) -> str:
        async with self.app.app_context():
            return url_for("static", filename="js/app.js")

    def check_error(self, error: BaseException) -> None:
        assert isinstance(error, ManifestError), repr(error)
        message = str(error)
        assert repr(self.env.url) in message, message
        assert re.search(self.fault.cause, message), message
        assert error.source == self.env.url

    def check_one_record(self, before: int) -> None:
        new = self.records()[before:]
        assert len(new) == 1, [r.getMessage() for r in new]
        message = new[0].getMessage()
        assert repr(self.env.url) in message, message
        assert re.search(self.fault.cause, message), message

    async def wait_for_failure_record(self, before: int) -> None:
        await eventually(lambda: len(self.records()) > before, "a failure to be logged")
        await asyncio.sleep(0.02)  # room for a flood to show, if there were one
        self.check_one_record(before)

    def check_running(self) -> None:
        task = self.refresher.task
        assert task is not None and not task.done()


@pytest.fixture
async def cell(
    request: pytest.FixtureRequest,
    manifest_server: ManifestServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> AsyncIterator[Callable[[Fault, bool], Cell]]:
    """Build a cell (app + fault environment); afterwards check that nothing leaked."""
    caplog.set_level(logging.WARNING, logger="quart_cdn")
    fds_before = open_fds()
    stack = contextlib.ExitStack()
    apps: list[Quart] = []

    def make(fault: Fault, strict: bool) -> Cell:
        env = Env(manifest_server, tmp_path)
        if fault.kind == "file":
            env.path.write_bytes(GOOD_V1)
            env.url = str(env.path)
        elif fault.kind == "server":
            env.url = manifest_server.url("/m")
        else:
            env.url = fault.url(env) if fault.url is not None else MOCKED_URL
            router = stack.enter_context(respx.mock(assert_all_called=False))
            env.route = router.get(env.url)
        if fault.skip is not None:
            reason = fault.skip(env)
            if reason:
                pytest.skip(reason)
        static = tmp_path / "static" / "js" / "app.js"
        static.parent.mkdir(parents=True, exist_ok=True)
        static.write_text("// app\n")
        os.utime(static, (MTIME, MTIME))
        app = Quart(__name__, static_folder=str(tmp_path / "static"))
        app.config.update(
            CDN_DOMAIN=DOMAIN,
            CDN_MANIFEST=True,
            CDN_MANIFEST_URL=env.url,
            CDN_MANIFEST_STRICT=strict,
            CDN_MANIFEST_REFRESH=60,
            CDN_MANIFEST_TIMEOUT=TIMEOUT,
            **fault.config,
        )
        apps.append(app)
        return Cell(fault, env, app, CDN(app), caplog)

    yield make

    with stack:
        manifest_server.release()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert tasks == [], tasks
        for app in apps:
            refresher = app.extensions["quart_cdn.state"].core.refresher
            assert refresher.task is None
            source = refresher.source
            if isinstance(source, UrlManifestSource):
                assert source._owned is None, "the HTTP client was not closed"
    # Sockets close asynchronously on the server side (its handler threads): poll, bounded.
    await eventually(lambda: open_fds() <= fds_before, f"open fds back to {fds_before}")


# -- Read points -------------------------------------------------------------------------------


async def startup_strict(c: Cell) -> None:
    """Strict: startup fails with the error (Quart logs it; quart_cdn does not log it again)."""
    c.inject()
    before = len(c.records())
    with pytest.raises(ManifestError) as info:
        await c.app.startup()
    c.check_error(info.value)
    assert c.records()[before:] == []
    assert c.refresher.task is None and c.cdn.manifest is None
    # The fault goes away: the next start succeeds.
    c.heal(GOOD_V1)
    await c.app.startup()
    try:
        assert await c.url() == URL_V1
        c.check_running()
    finally:
        await c.app.shutdown()


async def startup_lenient(c: Cell) -> None:
    """Not strict: startup goes on, URLs fall back, the task retries until a load succeeds."""
    c.inject()
    before = len(c.records())
    await c.app.startup()
    try:
        c.check_one_record(before)
        assert c.refresher.last_error is not None
        c.check_error(c.refresher.last_error)
        assert c.cdn.manifest is None
        assert await c.url() == URL_FALLBACK
        c.check_running()
        # Still broken: one more failure, one more record, still running.
        before = len(c.records())
        c.refresher.refresh_now()
        await c.wait_for_failure_record(before)
        c.check_running()
        assert await c.url() == URL_FALLBACK
        # The fault goes away: the next retry loads the manifest.
        c.heal(GOOD_V1)
        c.refresher.refresh_now()
        await eventually(lambda: c.cdn.manifest is not None, "the manifest to load")
        assert await c.url() == URL_V1
        assert c.refresher.last_error is None
        c.check_running()
    finally:
        await c.app.shutdown()


async def background(c: Cell) -> None:
    """A failed background reload is logged once and keeps the last good manifest."""
    c.heal(GOOD_V1)
    await c.app.startup()
    try:
        good = c.cdn.manifest
        assert good is not None and await c.url() == URL_V1
        c.inject()
        before = len(c.records())
        c.refresher.refresh_now()
        await c.wait_for_failure_record(before)
        assert c.refresher.last_error is not None
        c.check_error(c.refresher.last_error)
        assert c.cdn.manifest is good
        assert await c.url() == URL_V1
        c.check_running()
        c.heal(GOOD_V2)
        c.refresher.refresh_now()
        await eventually(lambda: c.cdn.manifest is not good, "the new manifest")
        assert await c.url() == URL_V2
        c.check_running()
    finally:
        await c.app.shutdown()


async def explicit_refresh(c: Cell) -> None:
    """``await cdn.refresh()`` raises (and does not log); the last good manifest stays."""
    c.heal(GOOD_V1)
    await c.app.startup()
    try:
        good = c.cdn.manifest
        assert good is not None
        c.inject()
        before = len(c.records())
        with pytest.raises(ManifestError) as info:
            await c.cdn.refresh()
        c.check_error(info.value)
        assert c.records()[before:] == []
        assert c.cdn.manifest is good
        assert await c.url() == URL_V1
        c.check_running()
        c.heal(GOOD_V2)
        fresh = await c.cdn.refresh()
        assert c.cdn.manifest is fresh and fresh is not good
        assert await c.url() == URL_V2
    finally:
        await c.app.shutdown()


READ_POINTS: dict[str, tuple[Callable[[Cell], Any], bool]] = {
    "startup-strict": (startup_strict, True),
    "startup-lenient": (startup_lenient, False),
    "background-refresh": (background, True),
    "cdn-refresh": (explicit_refresh, True),
}


@pytest.mark.parametrize("read_point", list(READ_POINTS))
@pytest.mark.parametrize("fault", FAULTS, ids=[f.id for f in FAULTS])
async def test_fault_matrix(
    cell: Callable[[Fault, bool], Cell], fault: Fault, read_point: str
) -> None:
    run, strict = READ_POINTS[read_point]
    await run(cell(fault, strict))


# -- Bodies that must be accepted --------------------------------------------------------------


def _brotli(body: bytes) -> bytes:
    brotli = pytest.importorskip("brotli")
    compressed: bytes = brotli.compress(body)
    return compressed


ACCEPTED: dict[str, Callable[[bytes], tuple[bytes, dict[str, str]]]] = {
    "gzip": lambda body: (gzip.compress(body), {"Content-Encoding": "gzip"}),
    "br": lambda body: (_brotli(body), {"Content-Encoding": "br"}),
    "utf8-bom": lambda body: (b"\xef\xbb\xbf" + body, {}),
    "crlf": lambda body: (body.replace(b"\n", b"\r\n"), {}),
}


@pytest.mark.parametrize("variant", list(ACCEPTED))
async def test_accepted_bodies_load_at_startup_and_refresh(
    cell: Callable[[Fault, bool], Cell], variant: str
) -> None:
    c = cell(content(variant, "", b""), True)
    body, headers = ACCEPTED[variant](GOOD_V1)
    c.env.server.set("/m", body, headers=headers)
    await c.app.startup()
    try:
        assert await c.url() == URL_V1
        body, headers = ACCEPTED[variant](GOOD_V2)
        c.env.server.set("/m", body, headers=headers)
        await c.cdn.refresh()
        assert await c.url() == URL_V2
        assert c.records() == []
    finally:
        await c.app.shutdown()


# -- A file replaced while it is read ----------------------------------------------------------


def _version(n: int) -> bytes:
    # Every version has the same size, so only the content tells them apart; large enough to
    # be parsed in a worker thread.
    return b"".join(b"%08x%08x  static/f%05d.js\n" % (n, i, i) for i in range(2500))


async def test_file_replaced_while_read_never_gives_half_a_file(tmp_path: Path) -> None:
    """Write-then-rename publishing: every load parses a whole version, the last one last."""
    path = tmp_path / "manifest.txt"
    path.write_bytes(_version(0))
    versions = 150
    stop = threading.Event()

    def publish() -> None:
        for n in range(1, versions + 1):
            temporary = tmp_path / f"manifest.{n}.tmp"
            temporary.write_bytes(_version(n))
            os.replace(temporary, path)
            if stop.is_set():
                return

    source = FileManifestSource(path)
    seen: list[int] = []
    writer = threading.Thread(target=publish, name="publisher")
    writer.start()
    try:
        while writer.is_alive():
            manifest = await source.load()  # a ManifestParseError here is half a file
            checksums = {manifest[f"static/f{i:05d}.js"][:8] for i in (0, 1234, 2499)}
            assert len(checksums) == 1 and len(manifest) == 2500
            seen.append(int(checksums.pop(), 16))
    finally:
        stop.set()
        writer.join(10)
    assert len(seen) > 1 and seen == sorted(seen)
    final = await source.load()
    assert final["static/f00000.js"] == f"{versions:08x}{0:08x}"
