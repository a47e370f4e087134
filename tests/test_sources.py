"""Manifest sources (quart_cdn._sources): files, and HTTP(S) URLs against a real server.

A real HTTP server (the `manifest_server` fixture) covers the main paths; respx and
`httpx.MockTransport` cover what a real server cannot produce on demand.
"""

from __future__ import annotations

import contextlib
import gc
import gzip
import os
import re
import shutil
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
import respx
from _server import ManifestServer

from quart_cdn import (
    FileManifestSource,
    ManifestLoadError,
    ManifestParseError,
    ManifestSource,
    UrlManifestSource,
    parse_manifest,
)
from quart_cdn._sources import source_for
from quart_cdn._sources.http import MAX_REDIRECTS

FIXTURES = Path(__file__).parent / "fixtures"
BODY = b'{"js/app.js": "js/app.7bfe0aac.js"}'
BODY_2 = b'{"js/app.js": "js/app.0badf00d.js"}'
SUMS = b"0123456789abcdef  static/js/app.js\n"


def _message(url: str) -> str:
    """The start of every message about the manifest at ``url``."""
    return re.escape(f"Manifest {url!r} ")


# -- the base class -------------------------------------------------------------------------


async def test_manifest_source_base_load_not_implemented() -> None:
    class Nothing(ManifestSource):
        location = "nowhere"

    source = Nothing()
    await source.open()
    with pytest.raises(NotImplementedError, match=r"Nothing\.load\(\) must be implemented"):
        await source.load()
    await source.aclose()
    assert repr(source) == "<Nothing 'nowhere'>"


# -- FileManifestSource ---------------------------------------------------------------------


@pytest.fixture
def manifest_file(tmp_path: Path) -> Path:
    path = tmp_path / "manifest.json"
    path.write_bytes(BODY)
    return path


@pytest.mark.parametrize(
    "name", ["md5sums.txt", "sha256sums.txt", "webpack-manifest.json", "vite-manifest.json"]
)
async def test_file_source_loads_fixture(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    shutil.copyfile(FIXTURES / name, path)
    source = FileManifestSource(path)
    manifest = await source.load()
    assert manifest == parse_manifest((FIXTURES / name).read_bytes())
    assert manifest.source == str(path)
    assert source.location == str(path)
    assert repr(source) == f"<FileManifestSource {str(path)!r}>"


async def test_file_source_unchanged_file_returns_same_object_without_reading(
    manifest_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = FileManifestSource(manifest_file)
    first = await source.load()

    def no_read(*args: object, **kwargs: object) -> None:
        raise AssertionError("an unchanged manifest file was read again")

    monkeypatch.setattr(os, "read", no_read)
    assert await source.load() is first
    assert await source.load() is first


async def test_file_source_replaced_file_gives_new_manifest(manifest_file: Path) -> None:
    source = FileManifestSource(manifest_file)
    first = await source.load()
    staged = manifest_file.with_name("manifest.json.tmp")
    staged.write_bytes(BODY_2)
    os.replace(staged, manifest_file)
    second = await source.load()
    assert second is not first
    assert second["js/app.js"] == "js/app.0badf00d.js"
    assert await source.load() is second


async def test_file_source_replaced_with_same_content_gives_equal_manifest(
    manifest_file: Path,
) -> None:
    source = FileManifestSource(manifest_file)
    first = await source.load()
    staged = manifest_file.with_name("manifest.json.tmp")
    staged.write_bytes(BODY)
    os.replace(staged, manifest_file)
    second = await source.load()
    assert second == first


async def test_file_source_rewritten_in_place_gives_new_manifest(manifest_file: Path) -> None:
    source = FileManifestSource(manifest_file)
    first = await source.load()
    manifest_file.write_bytes(BODY_2 + b"\n")
    second = await source.load()
    assert second is not first
    assert second["js/app.js"] == "js/app.0badf00d.js"


async def test_file_source_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    source = FileManifestSource(path)
    with pytest.raises(
        ManifestLoadError, match=_message(str(path)) + r"does not exist; check CDN_MANIFEST_URL$"
    ) as info:
        await source.load()
    assert info.value.source == str(path)
    assert isinstance(info.value.__cause__, FileNotFoundError)


async def test_file_source_missing_after_good_load(manifest_file: Path) -> None:
    source = FileManifestSource(manifest_file)
    await source.load()
    manifest_file.unlink()
    with pytest.raises(ManifestLoadError, match=r"does not exist"):
        await source.load()


async def test_file_source_directory(tmp_path: Path) -> None:
    source = FileManifestSource(tmp_path)
    with pytest.raises(
        ManifestLoadError, match=_message(str(tmp_path)) + r"is a directory, not a regular file"
    ) as info:
        await source.load()
    assert info.value.source == str(tmp_path)


async def test_file_source_permission_denied(manifest_file: Path) -> None:
    manifest_file.chmod(0)
    try:
        if os.access(manifest_file, os.R_OK):
            pytest.skip("this user (root?) can read a file with mode 000")
        source = FileManifestSource(manifest_file)
        with pytest.raises(
            ManifestLoadError,
            match=_message(str(manifest_file)) + r"cannot be read: permission denied",
        ) as info:
            await source.load()
        assert isinstance(info.value.__cause__, PermissionError)
    finally:
        manifest_file.chmod(0o644)


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (PermissionError(13, "Permission denied"), r"cannot be read: permission denied"),
        (OSError(5, "Input/output error"), r"cannot be read \(OSError: Input/output error\)"),
        (IsADirectoryError(21, "Is a directory"), r"is a directory, not a file"),
    ],
    ids=["permission", "eio", "isdir"],
)
async def test_file_source_open_errors_mapped(
    manifest_file: Path, monkeypatch: pytest.MonkeyPatch, error: OSError, cause: str
) -> None:
    """The open itself failing (what root cannot reproduce with chmod) names path and cause."""

    def failing_open(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(os, "open", failing_open)
    source = FileManifestSource(manifest_file)
    with pytest.raises(ManifestLoadError, match=_message(str(manifest_file)) + cause) as info:
        await source.load()
    assert info.value.__cause__ is error


@pytest.mark.parametrize(("cap", "ok"), [(len(BODY), True), (len(BODY) - 1, False)])
async def test_file_source_size_cap(manifest_file: Path, cap: int, ok: bool) -> None:
    source = FileManifestSource(manifest_file, max_bytes=cap)
    if ok:
        assert len(await source.load()) == 1
    else:
        with pytest.raises(
            ManifestLoadError,
            match=_message(str(manifest_file)) + rf"is larger than the {cap}-byte cap",
        ):
            await source.load()


async def test_file_source_parse_error_names_path(tmp_path: Path) -> None:
    path = tmp_path / "sums.txt"
    path.write_bytes(SUMS + b"garbage\n")
    with pytest.raises(ManifestParseError, match=_message(str(path)) + r"line 2 ") as info:
        await FileManifestSource(path).load()
    assert info.value.source == str(path)


async def test_file_source_recovers_after_bad_content(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_bytes(b"{")
    source = FileManifestSource(path)
    with pytest.raises(ManifestParseError):
        await source.load()
    path.write_bytes(BODY)
    assert len(await source.load()) == 1


# -- source_for -----------------------------------------------------------------------------


async def test_source_for_file_url(tmp_path: Path) -> None:
    folder = tmp_path / "dir with space"
    folder.mkdir()
    path = folder / "manifest.json"
    path.write_bytes(BODY)
    source = source_for(path.as_uri())
    assert isinstance(source, FileManifestSource)
    assert source.path == path
    assert (await source.load())["js/app.js"] == "js/app.7bfe0aac.js"


@pytest.mark.parametrize("prefix", ["file://", "file://localhost", "FILE://"])
def test_source_for_file_url_forms(prefix: str) -> None:
    source = source_for(f"{prefix}/srv/static/manifest.json")
    assert isinstance(source, FileManifestSource)
    assert source.path == Path("/srv/static/manifest.json")


@pytest.mark.parametrize(
    "location", ["manifest.json", "/srv/static/manifest.json", "build/m.json", "C:\\m.json"]
)
def test_source_for_plain_path(location: str) -> None:
    source = source_for(location, max_bytes=123)
    assert isinstance(source, FileManifestSource)
    assert source.path == Path(location)
    assert source.max_bytes == 123


async def test_source_for_plain_path_loads(manifest_file: Path) -> None:
    assert len(await source_for(str(manifest_file)).load()) == 1


@pytest.mark.parametrize(
    "location", ["http://cdn.example.com/m.json", "https://cdn.example.com/m.json", "HTTPS://x/m"]
)
def test_source_for_http_url(location: str) -> None:
    source = source_for(location, timeout=3.0, max_bytes=99)
    assert isinstance(source, UrlManifestSource)
    assert source.url == location
    assert (source.timeout, source.max_bytes) == (3.0, 99)


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("ftp://example.com/m.json", r"has an unsupported scheme 'ftp'; use an http\(s\)://"),
        ("gopher://example.com/m", r"has an unsupported scheme 'gopher'"),
        ("file://otherhost/m.json", r"names a remote host in a file:// URL"),
    ],
)
def test_source_for_refuses(location: str, message: str) -> None:
    with pytest.raises(
        ValueError, match=rf"^CDN_MANIFEST_URL {re.escape(repr(location))} {message}"
    ):
        source_for(location)


@pytest.mark.parametrize("setting", ["CDN_MANIFEST_URL", "manifest_url="])
async def test_source_for_setting_named_in_messages(
    tmp_path: Path, manifest_server: ManifestServer, setting: str
) -> None:
    """Messages name the setting the user wrote (``manifest_url=`` for Starlette)."""
    missing = source_for(str(tmp_path / "nope.json"), setting=setting)
    assert missing.setting == setting
    with pytest.raises(ManifestLoadError, match=rf"does not exist; check {re.escape(setting)}$"):
        await missing.load()
    url = manifest_server.url("/missing.json")
    with pytest.raises(
        ManifestLoadError, match=rf"HTTP 404 Not Found; check {re.escape(setting)}$"
    ):
        await source_for(url, setting=setting).load()
    for location in ["ftp://x.example/m.json", "file://otherhost/m.json"]:
        with pytest.raises(ValueError, match=rf"^{re.escape(setting)} {re.escape(repr(location))}"):
            source_for(location, setting=setting)


async def test_source_for_keyword_setting_size_cap_names_no_quart_key(
    manifest_file: Path,
) -> None:
    source = source_for(
        str(manifest_file),
        max_bytes=4,
        setting="manifest_url=",
        max_bytes_setting="manifest_max_bytes=",
    )
    with pytest.raises(ManifestLoadError, match=r"is larger than the 4-byte cap") as info:
        await source.load()
    assert "CDN_" not in str(info.value)
    assert "manifest_max_bytes=" in str(info.value)


# -- UrlManifestSource against a real server ------------------------------------------------


async def test_url_source_fetches(manifest_server: ManifestServer) -> None:
    manifest_server.set("/manifest.json", BODY)
    url = manifest_server.url("/manifest.json")
    source = UrlManifestSource(url)
    manifest = await source.load()
    assert manifest["js/app.js"] == "js/app.7bfe0aac.js"
    assert manifest.source == url
    [request] = manifest_server.requests
    assert request.method == "GET"
    assert request.headers["user-agent"].startswith("quart-cdn/")
    assert "if-none-match" not in request.headers
    assert "if-modified-since" not in request.headers


async def test_url_source_etag_304_returns_same_object(manifest_server: ManifestServer) -> None:
    manifest_server.set("/manifest.json", BODY)
    source = UrlManifestSource(manifest_server.url("/manifest.json"))
    await source.open()
    try:
        first = await source.load()
        second = await source.load()
    finally:
        await source.aclose()
    assert second is first
    plain, conditional = manifest_server.requests
    assert "if-none-match" not in plain.headers
    assert conditional.headers["if-none-match"].startswith('"')
    assert "if-modified-since" not in conditional.headers


async def test_url_source_last_modified_304_returns_same_object(
    manifest_server: ManifestServer,
) -> None:
    manifest_server.set("/sums.txt", SUMS, etag=False, last_modified=True)
    source = UrlManifestSource(manifest_server.url("/sums.txt"))
    first = await source.load()
    second = await source.load()
    assert second is first
    plain, conditional = manifest_server.requests
    assert "if-modified-since" not in plain.headers
    assert "if-none-match" not in conditional.headers
    assert conditional.headers["if-modified-since"].endswith(" GMT")


async def test_url_source_sends_both_validators(manifest_server: ManifestServer) -> None:
    manifest_server.set("/manifest.json", BODY, etag=True, last_modified=True)
    source = UrlManifestSource(manifest_server.url("/manifest.json"))
    first = await source.load()
    assert await source.load() is first
    conditional = manifest_server.requests[1].headers
    assert {"if-none-match", "if-modified-since"} <= set(conditional)


async def test_url_source_without_validators_refetches(manifest_server: ManifestServer) -> None:
    """No validators: each load fetches the body again, and the same bytes give the same
    manifest object (no swap, no dropped URL cache)."""
    manifest_server.set("/manifest.json", BODY, etag=False)
    source = UrlManifestSource(manifest_server.url("/manifest.json"))
    first = await source.load()
    second = await source.load()
    assert second is first
    assert len(manifest_server.requests) == 2
    assert "if-none-match" not in manifest_server.requests[1].headers


@pytest.mark.parametrize(("etag", "last_modified"), [(True, False), (False, True)])
async def test_url_source_changed_body_gives_new_manifest(
    manifest_server: ManifestServer, etag: bool, last_modified: bool
) -> None:
    manifest_server.set("/manifest.json", BODY, etag=etag, last_modified=last_modified)
    source = UrlManifestSource(manifest_server.url("/manifest.json"))
    first = await source.load()
    manifest_server.set("/manifest.json", BODY_2, etag=etag, last_modified=last_modified)
    second = await source.load()
    assert second is not first
    assert second["js/app.js"] == "js/app.0badf00d.js"
    assert manifest_server.requests[1].headers.keys() & {"if-none-match", "if-modified-since"}
    assert await source.load() is second


async def test_url_source_404(manifest_server: ManifestServer) -> None:
    url = manifest_server.url("/missing.json")
    source = UrlManifestSource(url)
    with pytest.raises(
        ManifestLoadError,
        match=_message(url) + r"returned HTTP 404 Not Found; check CDN_MANIFEST_URL$",
    ) as info:
        await source.load()
    assert info.value.source == url


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (500, {}, r"returned HTTP 500 Internal Server Error;"),
        (
            503,
            {"Retry-After": "120"},
            r"returned HTTP 503 Service Unavailable \(Retry-After: 120\);",
        ),
        (
            503,
            {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"},
            r"returned HTTP 503 .*\(Retry-After: Wed, 21 Oct 2015 07:28:00 GMT\)",
        ),
        (429, {"Retry-After": "5"}, r"returned HTTP 429 Too Many Requests \(Retry-After: 5\)"),
        (204, {}, r"returned HTTP 204 No Content"),
    ],
)
async def test_url_source_error_status(
    manifest_server: ManifestServer, status: int, headers: dict[str, str], expected: str
) -> None:
    manifest_server.set("/manifest.json", b"oops", status=status, headers=headers)
    url = manifest_server.url("/manifest.json")
    with pytest.raises(ManifestLoadError, match=_message(url) + expected):
        await UrlManifestSource(url).load()


async def test_url_source_error_keeps_validators(manifest_server: ManifestServer) -> None:
    """A failed fetch does not forget the last good answer: the next one is conditional."""
    manifest_server.set("/manifest.json", BODY)
    source = UrlManifestSource(manifest_server.url("/manifest.json"))
    first = await source.load()
    manifest_server.set("/manifest.json", b"down", status=503)
    with pytest.raises(ManifestLoadError, match=r"503"):
        await source.load()
    manifest_server.set("/manifest.json", BODY)
    assert await source.load() is first
    assert "if-none-match" in manifest_server.requests[-1].headers


async def test_url_source_parse_error_names_url(manifest_server: ManifestServer) -> None:
    manifest_server.set("/manifest.json", b'{"js/app.js": "https://evil.example/x.js"}')
    url = manifest_server.url("/manifest.json")
    with pytest.raises(ManifestParseError, match=_message(url) + r"refused: value") as info:
        await UrlManifestSource(url).load()
    assert info.value.source == url


@pytest.mark.parametrize(("cap", "ok"), [(len(BODY), True), (len(BODY) - 1, False)])
async def test_url_source_size_cap_content_length(
    manifest_server: ManifestServer, cap: int, ok: bool
) -> None:
    manifest_server.set("/manifest.json", BODY)
    url = manifest_server.url("/manifest.json")
    source = UrlManifestSource(url, max_bytes=cap)
    if ok:
        assert len(await source.load()) == 1
    else:
        with pytest.raises(
            ManifestLoadError, match=_message(url) + rf"is larger than the {cap}-byte"
        ):
            await source.load()


async def test_url_source_size_cap_content_length_before_body(
    manifest_server: ManifestServer,
) -> None:
    """A declared Content-Length over the cap is refused without waiting for the body."""
    manifest_server.drip("/manifest.json", bytes_per_second=1)  # declares 1,000,000 bytes
    url = manifest_server.url("/manifest.json")
    started = time.monotonic()
    with pytest.raises(ManifestLoadError, match=r"is larger than the 1000-byte cap"):
        await UrlManifestSource(url, max_bytes=1000, timeout=30).load()
    assert time.monotonic() - started < 2


async def test_url_source_follows_redirect(manifest_server: ManifestServer) -> None:
    manifest_server.set("/manifest.json", BODY)
    manifest_server.set("/old.json", b"", status=302, headers={"Location": "/manifest.json"})
    manifest = await UrlManifestSource(manifest_server.url("/old.json")).load()
    assert manifest["js/app.js"] == "js/app.7bfe0aac.js"
    assert [r.path for r in manifest_server.requests] == ["/old.json", "/manifest.json"]


async def test_url_source_redirect_chain_within_limit(manifest_server: ManifestServer) -> None:
    manifest_server.set("/manifest.json", BODY)
    for i in range(MAX_REDIRECTS):
        target = f"/r{i + 1}" if i + 1 < MAX_REDIRECTS else "/manifest.json"
        manifest_server.set(f"/r{i}", b"", status=307, headers={"Location": target})
    assert len(await UrlManifestSource(manifest_server.url("/r0")).load()) == 1
    assert len(manifest_server.requests) == MAX_REDIRECTS + 1


async def test_url_source_redirect_loop(manifest_server: ManifestServer) -> None:
    manifest_server.set("/loop", b"", status=301, headers={"Location": "/loop"})
    url = manifest_server.url("/loop")
    with pytest.raises(
        ManifestLoadError, match=_message(url) + rf"redirected more than {MAX_REDIRECTS} times"
    ):
        await UrlManifestSource(url).load()
    assert len(manifest_server.requests) == MAX_REDIRECTS + 1


async def test_url_source_slow_server_times_out(manifest_server: ManifestServer) -> None:
    manifest_server.hang("/manifest.json")
    url = manifest_server.url("/manifest.json")
    started = time.monotonic()
    with pytest.raises(ManifestLoadError, match=_message(url) + r"timed out"):
        await UrlManifestSource(url, timeout=0.2).load()
    assert time.monotonic() - started < 2


async def test_url_source_delayed_answer_times_out(manifest_server: ManifestServer) -> None:
    manifest_server.set("/manifest.json", BODY, delay=5)
    url = manifest_server.url("/manifest.json")
    with pytest.raises(ManifestLoadError, match=_message(url) + r"timed out"):
        await UrlManifestSource(url, timeout=0.2).load()


async def test_url_source_deadline_covers_whole_body(manifest_server: ManifestServer) -> None:
    """A body that keeps trickling in (no single read times out) still meets one deadline."""
    manifest_server.drip("/manifest.json", bytes_per_second=50)
    url = manifest_server.url("/manifest.json")
    started = time.monotonic()
    with pytest.raises(ManifestLoadError, match=_message(url) + r"timed out after 0\.3 s"):
        await UrlManifestSource(url, timeout=0.3).load()
    assert time.monotonic() - started < 2


async def test_url_source_short_body(manifest_server: ManifestServer) -> None:
    manifest_server.short_body("/manifest.json", BODY[:10], declared_length=len(BODY))
    url = manifest_server.url("/manifest.json")
    with pytest.raises(ManifestLoadError, match=_message(url) + r"broke off mid-answer") as info:
        await UrlManifestSource(url).load()
    assert isinstance(info.value.__cause__, httpx.RemoteProtocolError)


async def test_url_source_connection_refused(unused_tcp_port: int) -> None:
    url = f"http://127.0.0.1:{unused_tcp_port}/manifest.json"
    with pytest.raises(ManifestLoadError, match=_message(url) + r"could not be reached"):
        await UrlManifestSource(url, timeout=2).load()


# -- client lifecycle -----------------------------------------------------------------------


def _spy_clients(source: UrlManifestSource) -> list[httpx.AsyncClient]:
    created: list[httpx.AsyncClient] = []
    original = source._new_client

    def new_client() -> httpx.AsyncClient:
        client = original()
        created.append(client)
        return client

    source._new_client = new_client  # type: ignore[method-assign]
    return created


async def test_url_source_open_aclose_close_owned_client(manifest_server: ManifestServer) -> None:
    manifest_server.set("/manifest.json", BODY, etag=False)  # 200s: the pool is kept
    source = UrlManifestSource(manifest_server.url("/manifest.json"))
    created = _spy_clients(source)
    await source.open()
    await source.open()  # a second open keeps the one pool
    await source.load()
    await source.load()
    assert len(created) == 1
    assert not created[0].is_closed
    await source.aclose()
    assert created[0].is_closed
    await source.aclose()  # idempotent
    # Loading after aclose() still works, with a client of its own that it closes.
    await source.load()
    assert len(created) == 2
    assert all(client.is_closed for client in created)


@pytest.mark.parametrize("path", ["/manifest.json", "/missing.json", "/hang"])
async def test_url_source_load_without_open_leaves_nothing_unclosed(
    manifest_server: ManifestServer, path: str
) -> None:
    manifest_server.set("/manifest.json", BODY)
    manifest_server.hang("/hang")
    source = UrlManifestSource(manifest_server.url(path), timeout=0.2)
    created = _spy_clients(source)
    for _ in range(2):
        with contextlib.suppress(ManifestLoadError):
            await source.load()
    assert len(created) == 2
    assert all(client.is_closed for client in created)
    gc.collect()  # an unclosed socket would warn now, and warnings are errors


async def test_url_source_given_client_is_not_closed(manifest_server: ManifestServer) -> None:
    manifest_server.set("/manifest.json", BODY)
    async with httpx.AsyncClient() as client:
        source = UrlManifestSource(manifest_server.url("/manifest.json"), client=client)
        created = _spy_clients(source)
        await source.open()
        await source.load()
        await source.aclose()
        assert not client.is_closed
        assert created == []
        await source.load()
    assert client.is_closed


# -- what a real server cannot produce on demand: MockTransport and respx -------------------

URL = "https://cdn.example.com/manifest.json"
Handler = Callable[[httpx.Request], httpx.Response]


def _mock_source(handler: Handler, **kwargs: object) -> tuple[UrlManifestSource, httpx.AsyncClient]:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return UrlManifestSource(URL, client=client, **kwargs), client  # type: ignore[arg-type]


@pytest.fixture
async def closing() -> AsyncIterator[list[httpx.AsyncClient]]:
    clients: list[httpx.AsyncClient] = []
    yield clients
    for client in clients:
        await client.aclose()


def _raising(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (
            httpx.ConnectError("[Errno 111] Connection refused"),
            r"could not be reached: \[Errno 111\]",
        ),
        (httpx.ConnectError(""), r"could not be reached: ConnectError"),
        (httpx.ReadTimeout("read timed out"), r"timed out \(ReadTimeout\)"),
        (httpx.ConnectTimeout(""), r"timed out \(ConnectTimeout\)"),
        (httpx.PoolTimeout(""), r"timed out \(PoolTimeout\)"),
        (
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            r"broke off mid-answer: the server closed the connection without answering",
        ),
        (
            httpx.RemoteProtocolError(""),
            r"sent a broken HTTP answer: RemoteProtocolError \(no detail",
        ),
        (
            httpx.ReadError("Connection reset by peer"),
            r"lost the connection while reading the answer \(ReadError: Connection reset",
        ),
        (
            httpx.ReadError(""),
            r"lost the connection while reading the answer \(ReadError: ReadError \(no detail",
        ),
        (httpx.UnsupportedProtocol("no"), r"is not an http:// or https:// URL \(Unsupp"),
    ],
    ids=lambda v: f"{type(v).__name__}({str(v)[:12]!r})" if isinstance(v, Exception) else None,
)
async def test_url_source_transport_errors(
    closing: list[httpx.AsyncClient], exc: Exception, expected: str
) -> None:
    source, client = _mock_source(_raising(exc))
    closing.append(client)
    with pytest.raises(
        ManifestLoadError, match=_message(URL) + expected + r".*; check CDN_MANIFEST_URL$"
    ) as info:
        await source.load()
    assert info.value.__cause__ is exc
    assert info.value.source == URL


def _all_subclasses(cls: type[Exception]) -> Iterator[type[Exception]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)


def _class_name(cls: type[Exception]) -> str:
    return cls.__name__


HTTPX_ERRORS: list[type[Exception]] = sorted(
    {httpx.HTTPError, *_all_subclasses(httpx.HTTPError)}, key=_class_name
)


def _instantiate(cls: type[Exception], request: httpx.Request) -> Exception:
    if issubclass(cls, httpx.HTTPStatusError):
        return cls("boom", request=request, response=httpx.Response(500, request=request))
    if issubclass(cls, httpx.RequestError):
        return cls("boom", request=request)
    return cls("boom")


def test_url_source_httpx_error_list_is_complete() -> None:
    """The walk finds the httpx errors we know of (guards against an empty parametrization)."""
    names = {cls.__name__ for cls in HTTPX_ERRORS}
    assert {"ConnectError", "ReadTimeout", "RemoteProtocolError", "DecodingError"} <= names
    assert {"TooManyRedirects", "HTTPStatusError", "ProxyError", "CloseError"} <= names


@pytest.mark.parametrize("cls", HTTPX_ERRORS, ids=_class_name)
async def test_url_source_every_httpx_error_mapped(
    closing: list[httpx.AsyncClient], cls: type[Exception]
) -> None:
    """Like httpx's own test_exceptions.py: every HTTPError becomes a ManifestLoadError."""
    raised: list[Exception] = []

    def handler(request: httpx.Request) -> httpx.Response:
        exc = _instantiate(cls, request)
        raised.append(exc)
        raise exc

    source, client = _mock_source(handler)
    closing.append(client)
    with pytest.raises(
        ManifestLoadError, match=_message(URL) + r".*check CDN_MANIFEST_URL$"
    ) as info:
        await source.load()
    assert info.value.__cause__ is raised[0]
    assert info.value.source == URL


class _BrokenStream(httpx.AsyncByteStream):
    """A body that sends one chunk and then fails the way a dropped connection does."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'{"js/app.js": '
        raise self.exc


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (httpx.RemoteProtocolError("peer closed connection"), r"broke off mid-answer"),
        (httpx.ReadError("reset"), r"lost the connection while reading the answer"),
        (httpx.ReadTimeout("slow"), r"timed out \(ReadTimeout\)"),
    ],
    ids=["protocol", "read", "timeout"],
)
async def test_url_source_error_mid_body(
    closing: list[httpx.AsyncClient], exc: Exception, expected: str
) -> None:
    source, client = _mock_source(lambda request: httpx.Response(200, stream=_BrokenStream(exc)))
    closing.append(client)
    with pytest.raises(ManifestLoadError, match=_message(URL) + expected):
        await source.load()


async def test_url_source_304_without_validators(closing: list[httpx.AsyncClient]) -> None:
    source, client = _mock_source(lambda request: httpx.Response(304))
    closing.append(client)
    with pytest.raises(
        ManifestLoadError,
        match=_message(URL) + r"answered 304 Not Modified to a request without validators",
    ):
        await source.load()


async def test_url_source_304_after_answer_without_validators(
    closing: list[httpx.AsyncClient],
) -> None:
    """A 200 without ETag/Last-Modified leaves nothing to revalidate, so a 304 is an error."""
    answers = iter([httpx.Response(200, content=BODY), httpx.Response(304)])
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return next(answers)

    source, client = _mock_source(handler)
    closing.append(client)
    await source.load()
    with pytest.raises(
        ManifestLoadError, match=r"304 Not Modified to a request without validators"
    ):
        await source.load()
    assert "if-none-match" not in seen[1].headers


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_url_source_compressed_body_accepted(
    closing: list[httpx.AsyncClient], encoding: str
) -> None:
    import zlib

    body = gzip.compress(BODY) if encoding == "gzip" else zlib.compress(BODY)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=body, headers={"Content-Encoding": encoding})

    source, client = _mock_source(handler)
    closing.append(client)
    assert (await source.load())["js/app.js"] == "js/app.7bfe0aac.js"
    assert "gzip" in seen[0].headers["accept-encoding"]


async def test_url_source_size_cap_applies_to_decoded_body(
    closing: list[httpx.AsyncClient],
) -> None:
    """A small gzip body that inflates past the cap is refused (a decompression bomb)."""
    bomb = gzip.compress(b"{" + b" " * 1_000_000 + b"}")
    assert len(bomb) < 10_000

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=bomb, headers={"Content-Encoding": "gzip"})

    source, client = _mock_source(handler, max_bytes=100_000)
    closing.append(client)
    with pytest.raises(ManifestLoadError, match=r"is larger than the 100000-byte cap"):
        await source.load()


async def test_url_source_size_cap_streaming_without_content_length(
    closing: list[httpx.AsyncClient],
) -> None:
    chunks_sent: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        for i in range(10_000):
            chunks_sent.append(i)
            yield b" " * 1000

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=endless())

    source, client = _mock_source(handler, max_bytes=5000)
    closing.append(client)
    with pytest.raises(
        ManifestLoadError, match=_message(URL) + r"is larger than the 5000-byte cap"
    ):
        await source.load()
    assert len(chunks_sent) < 10  # it stopped reading soon after the cap


async def test_url_source_redirect_https_to_http_refused() -> None:
    with respx.mock(assert_all_called=False) as mock:
        mock.get(URL).respond(301, headers={"Location": "http://cdn.example.com/manifest.json"})
        plain = mock.get("http://cdn.example.com/manifest.json").respond(200, content=BODY)
        with pytest.raises(
            ManifestLoadError,
            match=_message(URL)
            + re.escape("redirects from https to 'http://cdn.example.com/manifest.json'; refused"),
        ):
            await UrlManifestSource(URL).load()
        assert not plain.called


async def test_url_source_redirect_https_to_https_followed() -> None:
    with respx.mock() as mock:
        mock.get(URL).respond(302, headers={"Location": "https://other.example/m.json"})
        mock.get("https://other.example/m.json").respond(200, content=BODY)
        assert len(await UrlManifestSource(URL).load()) == 1


async def test_nul_byte_in_a_path_is_a_load_error() -> None:
    with pytest.raises(ManifestLoadError, match="is not a valid path"):
        await source_for("file:///tmp/x%00y.json").load()


async def test_unloadable_ca_bundle_is_a_load_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    source = UrlManifestSource("https://127.0.0.1:9/manifest.json", timeout=2)
    with pytest.raises(ManifestLoadError, match="TLS CA bundle"):
        await source.load()
    with pytest.raises(ManifestLoadError, match="TLS CA bundle"):
        await source.open()
    await source.aclose()
