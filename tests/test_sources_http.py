"""The HTTP source against a hostile or broken origin: raw sockets on 127.0.0.1 send exactly
the bytes each case needs (bombs, cut bodies, a 304 with a body, odd redirects)."""

from __future__ import annotations

import gzip
import re
import tracemalloc
import zlib
from collections.abc import Callable, Iterator

import brotli  # type: ignore[import-untyped]
import httpx
import pytest
from _rawserver import Answer, RawServer, response
from quart import Quart

from quart_cdn import CDN, ManifestLoadError
from quart_cdn._sources import UrlManifestSource
from quart_cdn._sources.decoding import ACCEPT_ENCODING
from quart_cdn._sources.http import HTTP_ERRORS
from quart_cdn._sources.truncation import seal_checksum_lines

V1 = b"aaaaaaaa11111111  static/js/app.js\naaaaaaaa11111112  static/css/app.css\n"
V2 = b"bbbbbbbb22222222  static/js/app.js\n"
EVIL = b"eeeeeeee66666666  static/js/evil.js\n"
CAP = 1024 * 1024


def _gzip_zeros(size: int) -> bytes:
    packer, zeros = zlib.compressobj(9, zlib.DEFLATED, 31), b"\0" * (1 << 20)
    return b"".join(packer.compress(zeros) for _ in range(size >> 20)) + packer.flush()


def _raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-15)
    return packer.compress(data) + packer.flush()


_PACK: dict[str, Callable[[bytes], bytes]] = {"gzip": gzip.compress, "deflate": zlib.compress}


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """One gzip member inflating to 100 MB (about 100 KB)."""
    return _gzip_zeros(100 << 20)


def _served(body: bytes, *headers: tuple[str, str], length: int | None = -1) -> RawServer:
    return RawServer([response(body=body, headers=headers, length=length)])


def _ok(body: bytes, *headers: tuple[str, str]) -> bytes:
    return response(body=body, headers=headers)


async def _load(server: RawServer, **kwargs: float) -> object:
    return await UrlManifestSource(server.url(), timeout=5, **kwargs).load()  # type: ignore[arg-type]


async def _refused(server: RawServer, match: str) -> None:
    with server, pytest.raises(ManifestLoadError, match=match):
        await _load(server)


# -- 1. Bounded decoding ------------------------------------------------------------------------


@pytest.mark.parametrize("layers", ["gzip", "gzip, gzip", "br"])
async def test_url_source_bomb_refused_holding_little_more_than_the_cap(
    gzip_bomb: bytes, layers: str
) -> None:
    """A 100 MB bomb against a 1 MB cap: refused with the cap's message, and the Python
    heap never holds much more than the cap (httpx's own decoding held 64 MB at once)."""
    body = {
        "gzip": gzip_bomb,
        "gzip, gzip": gzip.compress(gzip_bomb),
        "br": brotli.compress(b"\0" * (100 << 20), quality=5),
    }[layers]
    with _served(body, ("Content-Encoding", layers)) as server:
        tracemalloc.start()
        try:
            with pytest.raises(ManifestLoadError, match=r"larger than the 1048576-byte cap") as e:
                await _load(server, max_bytes=CAP)
            held, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 3 * CAP, f"peak {peak} bytes"
    # The error (kept as last_error by the refresher) holds none of the decoded body.
    assert held < CAP // 2, f"{held} bytes still held beside {e.value!r}"


async def test_url_source_three_stacked_encodings_refused() -> None:
    body = gzip.compress(gzip.compress(gzip.compress(V1)))
    await _refused(
        _served(body, ("Content-Encoding", "gzip, gzip, gzip")),
        r"3 stacked Content-Encodings .*at most 2",
    )


@pytest.mark.parametrize(
    ("layers", "pack"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", _raw_deflate),  # no zlib header, as some servers send it
        ("br", brotli.compress),
        ("gzip, br", lambda d: brotli.compress(gzip.compress(d))),
        ("identity", bytes),
        ("gzip, gzip", lambda d: gzip.compress(gzip.compress(d))),
        ("gzip", lambda d: gzip.compress(d[:20]) + gzip.compress(d[20:])),  # two members
    ],
)
async def test_url_source_encodings_decoded(layers: str, pack: object) -> None:
    body = pack(V1)  # type: ignore[operator]
    with _served(body, ("Content-Encoding", layers)) as server:
        manifest = await _load(server)
        assert "br" in server.headers(0)["accept-encoding"]
    assert dict(manifest)["static/js/app.js"] == "aaaaaaaa11111111"  # type: ignore[call-overload]


@pytest.mark.parametrize("layers", ["gzip", "deflate", "br", "gzip, br", "br, gzip"])
async def test_url_source_large_body_decoded_whole(layers: str) -> None:
    """Many slices per layer, output held back inside brotli between calls: all of it."""
    body = b"".join(b"%016x  static/f%05d.js\n" % (i, i) for i in range(20_000))
    packed = body
    for coding in layers.split(", "):
        packed = brotli.compress(packed) if coding == "br" else _PACK[coding](packed)
    with _served(packed, ("Content-Encoding", layers)) as server:
        assert len(await _load(server)) == 20_000  # type: ignore[arg-type]


async def test_url_source_accept_encoding_advertises_what_it_decodes() -> None:
    assert ACCEPT_ENCODING == "gzip, deflate, br"  # brotli is installed in the dev extra


async def test_url_source_unknown_encoding_refused() -> None:
    await _refused(
        _served(V1, ("Content-Encoding", "zstd")), r"cannot be decoded: unknown .*'zstd'"
    )


# -- 2. Truncation -------------------------------------------------------------------------------


@pytest.mark.parametrize("layers", ["gzip", "br"])
async def test_url_source_compressed_stream_without_its_end_refused(layers: str) -> None:
    """The body is complete as HTTP sees it (Content-Length matches) but the compressed
    stream inside it stops before its end: a gzip stream without its trailer."""
    whole = gzip.compress(V1) if layers == "gzip" else brotli.compress(V1 * 50)
    await _refused(
        _served(whole[:-8], ("Content-Encoding", layers)),
        rf"sent a {layers} body that is cut short",
    )


async def test_url_source_body_shorter_than_content_length_refused() -> None:
    answer = Answer(response(body=V1[:30], length=len(V1)), close=True)
    with (
        RawServer([answer]) as server,
        pytest.raises(
            ManifestLoadError,
            match=r"broke off mid-answer: the connection closed before the whole body arrived",
        ),
    ):
        await _load(server)


@pytest.mark.parametrize("cut", [len(V1) // 2, V1.index(b"\n") + 1], ids=["mid-line", "line"])
async def test_url_source_sealed_manifest_cut_without_content_length_refused(cut: int) -> None:
    """HTTP/1.0 style (no Content-Length, close): a cut anywhere breaks the seal."""
    sealed = seal_checksum_lines(V1)
    body = sealed[: sealed.index(b"\n") + 1 + cut]
    await _refused(
        RawServer([Answer(response(body=body, length=None), close=True)]),
        r"does not match its seal \(2 entries ann",
    )


async def test_url_source_unsealed_checksum_cut_mid_line_refused() -> None:
    body = V1[: V1.index(b"\n") + 25]  # the second line, cut in its path
    await _refused(
        RawServer([Answer(response(body=body, length=None), close=True)]),
        r"ends in a line without a newline",
    )


async def test_url_source_sealed_manifest_loads() -> None:
    with _served(seal_checksum_lines(V1)) as server:
        assert len(await _load(server)) == 2  # type: ignore[arg-type]


async def test_url_source_undeclared_gzip_named() -> None:
    await _refused(_served(gzip.compress(V1)), r"is gzip-compressed data, not a manifest")


# -- 7. Protocol tricks --------------------------------------------------------------------------


async def test_url_source_304_with_a_body_never_desynchronises() -> None:
    """A 304 carrying a whole smuggled answer: the connection is dropped after the 304, so
    the next load reads the server's real answer, not the smuggled one."""
    smuggled = response(body=EVIL, headers=[("ETag", '"evil"')])
    answers = [
        _ok(V1, ("ETag", '"v1"')),
        response("304 Not Modified", smuggled, headers=[("ETag", '"v1"')], length=None),
        _ok(V2, ("ETag", '"v2"')),
    ]
    with RawServer(answers) as server:
        source = UrlManifestSource(server.url(), timeout=5)
        await source.open()
        try:
            first = await source.load()
            assert await source.load() is first
            third = await source.load()
        finally:
            await source.aclose()
        assert dict(third) == {"static/js/app.js": "bbbbbbbb22222222"}
        assert server.connections == 2


async def test_url_source_connection_kept_after_a_complete_200() -> None:
    with RawServer([_ok(V1), _ok(V2)]) as server:
        source = UrlManifestSource(server.url(), timeout=5)
        await source.open()
        try:
            await source.load()
            await source.load()
        finally:
            await source.aclose()
        assert server.connections == 1


async def test_url_source_no_validators_across_origins() -> None:
    """The manifest moved to another host: the redirect target never gets our ETag."""
    with RawServer([_ok(V2)]) as other:
        moved = response("302 Found", headers=[("Location", other.url(host="localhost"))])
        with RawServer([_ok(V1, ("ETag", '"v1"')), moved]) as origin:
            source = UrlManifestSource(origin.url(), timeout=5)
            await source.load()
            assert dict(await source.load()) == {"static/js/app.js": "bbbbbbbb22222222"}
            assert origin.headers(1)["if-none-match"] == '"v1"'  # same origin: sent
        assert "if-none-match" not in other.headers(0)


async def test_url_source_same_body_under_a_new_etag_is_the_same_manifest() -> None:
    with RawServer([_ok(V1, ("ETag", f'"{n}"')) for n in range(3)]) as server:
        source = UrlManifestSource(server.url(), timeout=5)
        first = await source.load()
        assert await source.load() is first
        assert await source.load() is first
        assert len(server.requests) == 3


# -- 4. Every failure is a ManifestLoadError -----------------------------------------------------


def _redirect(location: str) -> bytes:
    return response("302 Found", headers=[("Location", location)])


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("http://127.0.0.1:99999/m", r"redirects to 'http://127.0.0.1:99999/m', whose port is out"),
        ("http://xn--/m", r"not a valid (URL|domain name)"),
        ("ftp://127.0.0.1/m", r"redirects from http to 'ftp://127.0.0.1/m'; refused"),
        ("http://[::1/m", r"sent a broken HTTP answer: Invalid URL in location header"),
    ],
)
async def test_url_source_hostile_redirect_is_a_load_error(location: str, message: str) -> None:
    await _refused(RawServer([_redirect(location)]), message)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:99999/m", r"out of the range 1-65535|not a valid URL"),
        ("http://xn--/m", r"not a valid domain name \(IDNAError|not a valid URL"),
    ],
)
async def test_url_source_hostile_url_is_a_load_error(url: str, message: str) -> None:
    with pytest.raises(ManifestLoadError, match=message):
        await UrlManifestSource(url, timeout=5).load()


@pytest.mark.parametrize("location", ["http://127.0.0.1:99999/m", "http://xn--/m"])
async def test_non_strict_app_starts_whatever_the_origin_redirects_to(
    tmp_path: object, location: str
) -> None:
    with RawServer([_redirect(location)]) as server:
        app = Quart(__name__)
        app.config.update(
            CDN_DOMAIN="cdn.example.com",
            CDN_MANIFEST=True,
            CDN_MANIFEST_URL=server.url(),
            CDN_MANIFEST_STRICT=False,
        )
        cdn = CDN(app)
        async with app.test_app():
            assert cdn.manifest is None


def _exported_errors() -> Iterator[type[BaseException]]:
    for name in httpx.__all__:
        obj = getattr(httpx, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            yield obj


def test_http_error_table_is_complete() -> None:
    """Every exception class httpx exports has its own line (a new one fails here)."""
    exported = set(_exported_errors())
    assert len(exported) > 20
    assert exported - set(HTTP_ERRORS) == set()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", r"lost the connection while reading the answer \(ReadError: ReadError \(no detail"),
        ("Receive buffer too long", r"sent a header block or chunk line longer than httpx accepts"),
    ],
)
async def test_url_source_error_texts_say_what_happened(text: str, expected: str) -> None:
    exc: Exception = httpx.ReadError(text) if not text else httpx.RemoteProtocolError(text)

    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(ManifestLoadError, match=expected):
            await UrlManifestSource("http://origin.test/m", client=client).load()


async def test_url_source_oversized_header_line_explained() -> None:
    """A real h11 "Receive buffer too long": a header line past its limit."""
    head = b"HTTP/1.1 200 OK\r\nX-Junk: " + b"a" * 200_000 + b"\r\n\r\n"
    with (
        RawServer([Answer(head, close=True)]) as server,
        pytest.raises(ManifestLoadError, match=re.escape("longer than httpx accepts (100 KiB)")),
    ):
        await _load(server)


async def test_url_source_long_location_cut_in_messages() -> None:
    with RawServer([response("404 Not Found")]) as server:
        url = server.url("/" + "x" * 5000)
        with pytest.raises(ManifestLoadError, match=r"returned HTTP 404") as info:
            await UrlManifestSource(url, timeout=5).load()
    assert len(str(info.value)) < 400
    assert info.value.source == url
