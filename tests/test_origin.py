"""The origin rules of ``quart_cdn._origin``, framework-free: the cache verdict of every kind of
request, the 404 verdict, CORS headers and preflight, and the choice of a precompressed
sibling (``Accept-Encoding`` with q-values, stale siblings, the per-file cache).

Files are real, in ``tmp_path``; manifests are parsed from bytes as a source would give them.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

from quart_cdn._cache import Snapshot
from quart_cdn._config import CDNConfig
from quart_cdn._core import CDNCore
from quart_cdn._manifest import parse_manifest
from quart_cdn._origin import (
    IMMUTABLE,
    NO_STORE,
    Origin,
    Variant,
    accepted_encodings,
    asked_versions,
    merge_vary,
)

MTIME = 1_700_000_000
HELLO = b"hello"
CHECKSUM = "5d41402abc4b2a76"  # md5(b"hello"), cut to 16 digits
OLD_CHECKSUM = "0123456789abcdef"
MAPPING = b'{"css/app.css": "css/app.1a2b3c4d.css", "robots.txt": "robots.txt"}'
PREFIXED = b'{"static/css/app.css": "static/css/app.1a2b3c4d.css"}'


def make_origin(manifest: bytes | None = None, **settings: Any) -> Origin:
    config = CDNConfig.from_settings(
        {
            "domain": "cdn.example.com",
            "manifest": manifest is not None,
            "manifest_url": "manifest" if manifest is not None else None,
            **settings,
        }
    )
    core = CDNCore(config)
    if manifest is not None:
        core.snapshot = Snapshot(parse_manifest(manifest, source="manifest"))
    return Origin(core)


def verdict(
    origin: Origin, filename: str, query: str, folder: Path | None = None, *, body: bytes = HELLO
) -> str | None:
    """The verdict for ``filename`` (in ``folder``, else a temporary one), whose bytes are
    ``body``; a checksum manifest's file is read first, as the adapters do."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(folder or tmp) / filename
        if folder is None:
            write(path, body)
        found = path.stat()
        if origin.needs_digest(str(path), found):
            origin.digest(str(path), found)
        return origin.cache_control(
            url_key=f"static/{filename}",
            filename=filename,
            folder=None if folder is None else str(folder),
            query=query,
            path=str(path),
            stat=found,
        )


def write(path: Path, body: bytes, mtime: int = MTIME) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    os.utime(path, (mtime, mtime))
    return path


# -- versions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ()),
        (b"", ()),
        ("x=1", ()),
        ("c=abc", ("c=abc",)),
        (b"t=17&x=1", ("t=17",)),
        ("c=a&c=b", ("c=a", "c=b")),
        ("abc=1", ()),
        ("c=", ("c=",)),
    ],
)
def test_asked_versions_reads_c_and_t(query: str | bytes, expected: tuple[str, ...]) -> None:
    assert asked_versions(query) == expected


def test_origin_checksum_current_version_is_immutable() -> None:
    origin = make_origin(f"{CHECKSUM}  static/css/app.css\n".encode())
    assert verdict(origin, "css/app.css", f"c={CHECKSUM}") == IMMUTABLE


@pytest.mark.parametrize(
    "query",
    [
        f"c={OLD_CHECKSUM}",  # an old page's URL at a new instance
        "c=ffffffffffffffff",  # a new page's URL at an old instance
        f"t={MTIME}",  # the other kind of version
        f"c={CHECKSUM}&c={OLD_CHECKSUM}",  # url_for never gives two
    ],
)
def test_origin_checksum_other_version_is_no_store(query: str) -> None:
    origin = make_origin(f"{CHECKSUM}  static/css/app.css\n".encode())
    assert verdict(origin, "css/app.css", query) == NO_STORE


def test_origin_unversioned_request_keeps_the_framework_caching() -> None:
    origin = make_origin(f"{CHECKSUM}  static/css/app.css\n".encode())
    assert verdict(origin, "css/app.css", "") is None
    assert verdict(origin, "css/app.css", "x=1") is None


def test_origin_version_of_an_unlisted_file_is_no_store() -> None:
    """Strict: url_for gives no URL for it at all; lenient: it gives no c= for it."""
    checksums = f"{CHECKSUM}  static/css/app.css\n".encode()
    for strict in (True, False):
        origin = make_origin(checksums, manifest_strict=strict, timestamp=False)
        assert verdict(origin, "css/other.css", f"c={CHECKSUM}") == NO_STORE


def test_origin_version_before_any_manifest_is_no_store() -> None:
    config = CDNConfig.from_settings(
        {"domain": "cdn.example.com", "manifest": True, "manifest_url": "manifest"}
    )
    origin = Origin(CDNCore(config))
    assert verdict(origin, "css/app.css", f"c={CHECKSUM}") == NO_STORE


def test_origin_timestamp_current_version_is_immutable(tmp_path: Path) -> None:
    write(tmp_path / "css/app.css", b"h1{}")
    origin = make_origin()
    assert verdict(origin, "css/app.css", f"t={MTIME}", tmp_path) == IMMUTABLE
    assert verdict(origin, "css/app.css", f"t={MTIME - 1}", tmp_path) == NO_STORE


def test_origin_timestamp_of_a_file_changed_since_is_no_store(tmp_path: Path) -> None:
    """url_for keeps the mtime it read first; the bytes sent are newer: not immutable."""
    write(tmp_path / "css/app.css", b"h1{}")
    origin = make_origin()
    assert verdict(origin, "css/app.css", f"t={MTIME}", tmp_path) == IMMUTABLE
    write(tmp_path / "css/app.css", b"h1{}", MTIME + 60)
    assert verdict(origin, "css/app.css", f"t={MTIME}", tmp_path) == NO_STORE


@pytest.mark.parametrize("algorithm", ["md5", "sha1", "sha256"])
@pytest.mark.parametrize("length", [8, None])
def test_origin_checksum_is_checked_against_the_bytes(algorithm: str, length: int | None) -> None:
    """The manifest may name other bytes than this instance has (one manifest shared by
    instances mid-deploy): only the file's own digest, whole or cut, is immutable."""
    checksum = hashlib.new(algorithm, b"new bytes").hexdigest()[:length]
    origin = make_origin(f"{checksum}  static/css/app.css\n".encode())
    assert verdict(origin, "css/app.css", f"c={checksum}", body=b"new bytes") == IMMUTABLE
    assert verdict(origin, "css/app.css", f"c={checksum}", body=b"old bytes") == NO_STORE


def test_origin_checksum_unread_file_is_no_store(tmp_path: Path) -> None:
    """An adapter that did not read the file first never gets immutable."""
    plain = write(tmp_path / "app.css", HELLO)
    origin = make_origin(f"{CHECKSUM}  static/app.css\n".encode())
    assert origin.needs_digest(str(plain), plain.stat())
    found = plain.stat()

    def check() -> str | None:
        return origin.cache_control(
            url_key="static/app.css",
            filename="app.css",
            folder=None,
            query=f"c={CHECKSUM}",
            path=str(plain),
            stat=found,
        )

    assert check() == NO_STORE
    origin.digest(str(plain), found)
    assert not origin.needs_digest(str(plain), found)
    assert check() == IMMUTABLE
    assert not make_origin(MAPPING).needs_digest(str(plain), found)
    assert not make_origin(origin_cache=False).needs_digest(str(plain), found)


def test_origin_mapping_listed_hashed_name_is_immutable() -> None:
    origin = make_origin(MAPPING)
    assert verdict(origin, "css/app.1a2b3c4d.css", "") == IMMUTABLE
    # The name is the version: a query does not change the bytes it names.
    assert verdict(origin, "css/app.1a2b3c4d.css", "c=zzz") == IMMUTABLE


def test_origin_mapping_with_the_url_path_in_front_is_understood() -> None:
    origin = make_origin(PREFIXED)
    assert verdict(origin, "css/app.1a2b3c4d.css", "") == IMMUTABLE


def test_origin_mapping_unlisted_names_are_not_immutable() -> None:
    origin = make_origin(MAPPING, manifest_strict=False)
    # An old hashed copy still on disk, and a file mapped to itself: the framework's.
    assert verdict(origin, "css/app.99999999.css", "") is None
    assert verdict(origin, "robots.txt", "") is None
    # The logical name with a version url_for does not give: no-store.
    assert verdict(origin, "css/app.css", f"t={MTIME}") == NO_STORE


def test_origin_cache_off_changes_nothing() -> None:
    origin = make_origin(f"{CHECKSUM}  static/css/app.css\n".encode(), origin_cache=False)
    assert verdict(origin, "css/app.css", f"c={CHECKSUM}") is None
    assert verdict(origin, "css/app.css", f"c={OLD_CHECKSUM}") is None
    assert origin.missing_cache_control(f"c={CHECKSUM}") is None


def test_origin_missing_file_is_no_store_when_versioned() -> None:
    origin = make_origin(f"{CHECKSUM}  static/css/app.css\n".encode())
    assert origin.missing_cache_control(b"c=abc") == NO_STORE
    assert origin.missing_cache_control(b"t=1") == NO_STORE
    assert origin.missing_cache_control(b"") is None


def test_origin_missing_file_with_a_mapping_manifest_is_no_store() -> None:
    """A new build's hashed name at an old instance: the name itself is the version."""
    assert make_origin(MAPPING).missing_cache_control(b"") == NO_STORE


def test_origin_is_off_with_the_cdn_off() -> None:
    assert make_origin().enabled
    assert not make_origin(debug=True).enabled
    assert not Origin(CDNCore(CDNConfig())).enabled
    off = make_origin(origin_cache=False, cors=None, precompressed=False)
    assert not off.enabled


# -- CORS ---------------------------------------------------------------------------------


def test_origin_cors_any_origin() -> None:
    answer = make_origin().answer(None)
    assert answer.headers == [("Access-Control-Allow-Origin", "*")]
    assert answer.vary == ()


def test_origin_cors_one_origin_varies_by_origin() -> None:
    answer = make_origin(cors="https://App.example.com:8443").answer(IMMUTABLE)
    assert ("Access-Control-Allow-Origin", "https://app.example.com:8443") in answer.headers
    assert ("Cache-Control", IMMUTABLE) in answer.headers
    assert answer.vary == ("Origin",)
    assert answer.drop == ("Expires",)


def test_origin_cors_off() -> None:
    origin = make_origin(cors=None)
    assert origin.answer(None).headers == []
    assert origin.preflight_headers("range") == []


def test_origin_preflight_allows_reads_and_the_asked_headers() -> None:
    headers = dict(make_origin().preflight_headers("Range, x-bad header, If-None-Match"))
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert headers["Access-Control-Allow-Methods"] == "GET, HEAD"
    assert headers["Access-Control-Allow-Headers"] == "Range, If-None-Match"
    assert "Access-Control-Allow-Headers" not in dict(make_origin().preflight_headers(None))


@pytest.mark.parametrize(
    "value",
    ["https://app.example.com/", "app.example.com", "ftp://x.org", "https://a.b/path", 3, "", "**"],
)
def test_config_cors_refuses_what_is_not_an_origin(value: object) -> None:
    with pytest.raises(ValueError, match=r"^CDN_CORS must be '\*', one origin"):
        CDNConfig.from_settings({"cors": value})


def test_config_cors_accepts_star_none_and_origins() -> None:
    for value in ("*", None, "http://127.0.0.1:8000", "https://[::1]:443", "https://a-b.example"):
        assert CDNConfig.from_settings({"cors": value}).cors == value


# -- precompressed siblings ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, {}),
        ("gzip, deflate, br, zstd", {"gzip": 1.0, "deflate": 1.0, "br": 1.0, "zstd": 1.0}),
        ("br;q=0, gzip;q=0.5", {"br": 0.0, "gzip": 0.5}),
        ("GZIP ; Q=0.8, *;q=0.1", {"gzip": 0.8, "*": 0.1}),
        ("gzip;q=x, br;q=2", {"gzip": 0.0, "br": 0.0}),
    ],
)
def test_accepted_encodings_parses_weights(header: str | None, expected: dict[str, float]) -> None:
    assert accepted_encodings(header) == expected


@pytest.fixture
def css(tmp_path: Path) -> Path:
    plain = write(tmp_path / "app.css", b"h1 { color: red }\n" * 50)
    write(tmp_path / "app.css.gz", gzip.compress(plain.read_bytes()))
    write(tmp_path / "app.css.br", b"brotli bytes")
    return plain


def choose(origin: Origin, plain: Path, header: str | None) -> Variant:
    return origin.variant(str(plain), plain.stat(), header)


@pytest.mark.parametrize(
    ("header", "encoding"),
    [
        ("gzip, deflate, br", "br"),
        ("gzip", "gzip"),
        ("br", "br"),
        ("gzip;q=1, br;q=0.5", "gzip"),
        ("br;q=0, gzip", "gzip"),
        ("br;q=0, gzip;q=0", None),
        ("*", "br"),
        ("*;q=0.5, br;q=0", "gzip"),
        ("identity", None),
        (None, None),
    ],
)
def test_origin_variant_follows_accept_encoding(
    css: Path, header: str | None, encoding: str | None
) -> None:
    variant = choose(make_origin(), css, header)
    assert variant.encoding == encoding
    assert variant.path == str(css) + {"br": ".br", "gzip": ".gz", None: ""}[encoding]
    assert variant.stat.st_size == os.stat(variant.path).st_size
    assert variant.varies


def test_origin_variant_without_siblings_does_not_vary(tmp_path: Path) -> None:
    plain = write(tmp_path / "app.js", b"x")
    variant = choose(make_origin(), plain, "br, gzip")
    assert variant == Variant(str(plain), plain.stat())
    assert not variant.varies
    answer = make_origin().answer(None, variant)
    assert answer.vary == () and ("Content-Encoding", "br") not in answer.headers


def test_origin_variant_answer_has_the_coding_and_vary(css: Path) -> None:
    origin = make_origin()
    answer = origin.answer(IMMUTABLE, choose(origin, css, "br"))
    assert ("Content-Encoding", "br") in answer.headers
    assert answer.vary == ("Accept-Encoding",)


def test_origin_variant_off_serves_the_plain_file(css: Path) -> None:
    variant = choose(make_origin(precompressed=False), css, "br, gzip")
    assert variant.encoding is None and not variant.varies


def test_origin_variant_ignores_a_sibling_older_than_the_file(css: Path) -> None:
    """The plain file was edited after the build: its old .gz must not shadow it."""
    os.utime(css, (MTIME + 10, MTIME + 10))
    assert choose(make_origin(), css, "br, gzip").encoding is None


def test_origin_variant_is_looked_up_once_per_version_of_the_file(css: Path) -> None:
    origin = make_origin()
    assert choose(origin, css, "br").encoding == "br"
    os.unlink(str(css) + ".br")
    assert choose(origin, css, "br").encoding == "br"  # cached: no stat per request
    origin.forget(str(css))
    assert choose(origin, css, "br").encoding is None
    # A new version of the file (another size) is looked up afresh.
    write(css, b"new", MTIME)
    write(Path(str(css) + ".br"), b"br", MTIME)
    assert choose(origin, css, "br").encoding == "br"


def test_variant_etags_differ_per_coding(css: Path) -> None:
    origin = make_origin()
    tags = {choose(origin, css, h).etag() for h in ("br", "gzip", None)}
    assert len(tags) == 3
    same_size = Variant("x", css.stat(), "br"), Variant("x", css.stat(), "gzip")
    assert same_size[0].etag() != same_size[1].etag()


def test_merge_vary_adds_each_name_once() -> None:
    assert merge_vary(None, ["Accept-Encoding"]) == "Accept-Encoding"
    assert merge_vary("origin", ["Origin", "Accept-Encoding"]) == "origin, Accept-Encoding"
    assert merge_vary("", []) == ""
