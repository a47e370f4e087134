"""Hostile input never moves a URL off the CDN.

Property tests (hypothesis) over file names, extra values and manifest values, and tables of
the hostile manifest entries and ``CDN_DOMAIN`` values that the README documents as refused
or accepted.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import quart
from hypothesis import HealthCheck, given, settings, strategies as st
from quart import Quart
from werkzeug.routing import BuildError

from quart_cdn import CDN, ManifestError, ManifestParseError, parse_manifest, url_for
from quart_cdn._sources import source_for
from quart_cdn._urls import normalize_domain

DOMAIN = "cdn.example.com"
MTIME = 1_700_000_000
PROPERTIES = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

#: Any text but surrogates (which no URL can carry).
texts = st.text(st.characters(codec="utf-8"), max_size=40)
filenames = st.one_of(
    texts,
    st.sampled_from(["js/app.js", "../x.js", "//evil.example/x.js", "https://evil.example/x"]),
    st.lists(st.sampled_from(["..", ".", "", "a", "%2e%2e", "\\", "?", "#", "@evil"])).map(
        "/".join
    ),
)
# Extra values become the query; names starting with '_' are Quart's own (_anchor...).
extra_names = texts.filter(lambda k: bool(k) and not k.startswith("_") and k != "filename")
extra_values = st.one_of(texts, st.integers(), st.booleans(), st.lists(texts, max_size=3))
extras = st.dictionaries(extra_names, extra_values, max_size=3)


def make_app(tmp_path: Path, **config: Any) -> tuple[Quart, CDN]:
    static = tmp_path / "static"
    (static / "js").mkdir(parents=True, exist_ok=True)
    (static / "js" / "app.js").write_text("// app\n")
    os.utime(static / "js" / "app.js", (MTIME, MTIME))
    app = Quart(__name__, static_folder=str(static))
    app.config.update(CDN_DOMAIN=DOMAIN, **config)
    return app, CDN(app)


@pytest.fixture
def app(tmp_path: Path) -> Quart:
    return make_app(tmp_path)[0]


# -- File names and extra values ---------------------------------------------------------------


@PROPERTIES
@given(filename=filenames, values=extras, anchor=st.one_of(st.none(), texts))
async def test_url_for_any_filename_and_values_stays_on_cdn_with_quarts_path(
    app: Quart, filename: str, values: dict[str, Any], anchor: str | None
) -> None:
    """The URL parses, its host is the CDN's and its path is the one Quart builds."""
    if anchor is not None:
        values = {**values, "_anchor": anchor}
    async with app.test_request_context("/"):
        try:
            expected = quart.url_for("static", filename=filename, **values)
        except BuildError:
            with pytest.raises(BuildError):
                url_for("static", filename=filename, **values)
            return
        url = url_for("static", filename=filename, **values)

    parts, local = urlsplit(url), urlsplit(expected)
    assert parts.scheme == "http" and parts.netloc == DOMAIN
    assert (parts.hostname, parts.port, parts.username) == (DOMAIN, None, None)
    assert parts.path == local.path
    assert parts.fragment == local.fragment
    version = f"t={MTIME}" if filename == "js/app.js" else ""
    assert parts.query == "&".join(q for q in (local.query, version) if q)


@PROPERTIES
@given(filename=filenames, scheme=st.sampled_from(["", "http", "https"]))
async def test_url_for_scheme_never_changes_the_host(
    app: Quart, filename: str, scheme: str
) -> None:
    async with app.app_context():
        url = url_for("static", filename=filename, _scheme=scheme, _external=False)
    parts = urlsplit(url)
    assert parts.scheme == scheme and parts.netloc == DOMAIN


# -- Hostile manifest entries ------------------------------------------------------------------

GOOD = {"js/app.js": "js/app.11111111.js"}
GOOD_URL = f"http://{DOMAIN}/static/js/app.11111111.js"

#: Mapping values: refused at load (the reason the message gives), or quoted into the path.
HOSTILE_VALUES = [
    ("https://evil.example/x.js", "refused", "carries a URL scheme"),
    ("HTTPS://evil.example/x.js", "refused", "carries a URL scheme"),
    ("javascript:alert(1)", "refused", "carries a URL scheme"),
    ("//evil.example/x.js", "refused", "names another host"),
    ("///evil.example/x.js", "refused", "names another host"),
    ("../../x.js", "refused", "not a relative path below the static folder"),
    ("js/../../x.js", "refused", "not a relative path below the static folder"),
    ("./x.js", "refused", "not a relative path below the static folder"),
    ("js//x.js", "refused", "not a relative path below the static folder"),
    ("", "refused", "not a relative path below the static folder"),
    ("/", "refused", "not a relative path below the static folder"),
    ("x.js\r\nSet-Cookie: a=b", "refused", "control character"),
    ("x.js\x00", "refused", "control character"),
    ("x.js\x85", "refused", "control character"),
    ("x.js?evil=1", "refused", r"'\?' or '#'"),
    ("x.js#evil", "refused", r"'\?' or '#'"),
    ("..\\x.js", "refused", "backslash"),
    ("C:\\x.js", "refused", "carries a URL scheme"),
    ("x" * 1_000_000, "refused", "longer than 1024 characters"),
    ("/js/app.2.js", "quoted", "/static/js/app.2.js"),
    ("js/app 2.js", "quoted", "/static/js/app%202.js"),
    ("js/%2e%2e/x.js", "quoted", "/static/js/%252e%252e/x.js"),
    ("js/..x.js", "quoted", "/static/js/..x.js"),
    ("js/ü.js", "quoted", "/static/js/%C3%BC.js"),
    ("js/@evil.example", "quoted", "/static/js/@evil.example"),
    ("js/x.js;evil", "quoted", "/static/js/x.js;evil"),
]

#: Mapping keys: refused at load, or accepted (and what ``js/app.js`` then gives).
HOSTILE_KEYS = [
    ("/js/app.js", "accepted", "/static/js/app.22222222.js"),
    ("//evil.example/js/app.js", "refused", "names another host"),
    ("https://evil.example/js/app.js", "refused", "carries a URL scheme"),
    ("../js/app.js", "refused", "not a relative path below the static folder"),
    ("js/app.js\n", "refused", "control character"),
    ("k" * 1_000_000, "refused", "longer than 1024 characters"),
]


@pytest.fixture
async def manifest_app(tmp_path: Path) -> AsyncIterator[tuple[Quart, CDN, Path]]:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(GOOD))
    app, cdn = make_app(tmp_path, CDN_MANIFEST=True, CDN_MANIFEST_URL=str(path))
    await app.startup()
    try:
        yield app, cdn, path
    finally:
        await app.shutdown()


async def load_and_url(
    app: Quart, cdn: CDN, path: Path, body: bytes, filename: str = "js/app.js"
) -> tuple[ManifestError | None, str]:
    """Publish ``body``, refresh, and return the error (if any) and the URL afterwards."""
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(body)
    os.replace(temporary, path)
    error = None
    try:
        await cdn.refresh()
    except ManifestError as exc:
        error = exc
    async with app.app_context():
        return error, url_for("static", filename=filename)


@pytest.mark.parametrize(("value", "outcome", "detail"), HOSTILE_VALUES, ids=repr)
async def test_hostile_manifest_value_refused_or_quoted(
    manifest_app: tuple[Quart, CDN, Path], value: str, outcome: str, detail: str
) -> None:
    app, cdn, path = manifest_app
    body = json.dumps({"js/app.js": value}).encode()
    error, url = await load_and_url(app, cdn, path, body)
    if outcome == "refused":
        assert isinstance(error, ManifestParseError)
        assert str(path) in str(error)
        assert "value" in str(error) and re.search(detail, str(error)), str(error)
        assert url == GOOD_URL  # the last good manifest stays
    else:
        assert error is None
        assert url == f"http://{DOMAIN}{detail}"


@pytest.mark.parametrize(("key", "outcome", "detail"), HOSTILE_KEYS, ids=repr)
async def test_hostile_manifest_key_refused_or_accepted(
    manifest_app: tuple[Quart, CDN, Path], key: str, outcome: str, detail: str
) -> None:
    app, cdn, path = manifest_app
    body = json.dumps({key: "js/app.22222222.js"}).encode()
    error, url = await load_and_url(app, cdn, path, body)
    if outcome == "refused":
        assert isinstance(error, ManifestParseError)
        assert "key" in str(error) and re.search(detail, str(error))
        assert url == GOOD_URL
    else:
        assert error is None
        assert url == f"http://{DOMAIN}{detail}"


async def test_hostile_vite_file_refused(manifest_app: tuple[Quart, CDN, Path]) -> None:
    app, cdn, path = manifest_app
    body = json.dumps({"js/app.js": {"file": "//evil.example/x.js"}}).encode()
    error, url = await load_and_url(app, cdn, path, body)
    assert isinstance(error, ManifestParseError) and "names another host" in str(error)
    assert url == GOOD_URL


@pytest.mark.parametrize(
    "body",
    [
        b"aaaaaaaa  static/" + b"x" * 1_000_000 + b"\n",
        b"aaaaaaaa" * 125_000 + b"  static/js/app.js\n",
    ],
    ids=["1MB-path", "1MB-checksum"],
)
def test_checksum_manifest_one_megabyte_line(body: bytes) -> None:
    """A 1 MB path is refused with its line number; a 1 MB checksum only ever becomes c=."""
    try:
        manifest = parse_manifest(b"bbbbbbbb  static/a.js\n" + body, source="m")
    except ManifestParseError as exc:
        assert exc.line == 2 and "line 2" in str(exc)
    else:
        assert manifest["static/js/app.js"] == "aaaaaaaa" * 125_000


@PROPERTIES
@given(value=st.one_of(texts, st.text(max_size=3).map(lambda s: "//" + s), filenames))
async def test_any_manifest_value_is_refused_or_stays_under_the_static_path(
    manifest_app: tuple[Quart, CDN, Path], value: str
) -> None:
    app, cdn, path = manifest_app
    async with app.app_context():
        before = url_for("static", filename="js/app.js")
    error, url = await load_and_url(app, cdn, path, json.dumps({"js/app.js": value}).encode())
    if error is not None:
        assert isinstance(error, ManifestParseError)
        assert url == before  # refused: the last good manifest stays
        return
    parts = urlsplit(url)
    assert parts.netloc == DOMAIN and parts.scheme == "http"
    assert parts.query == "" and parts.fragment == ""
    assert parts.path.startswith("/static/")
    segments = unquote(parts.path).split("/")[2:]
    assert ".." not in segments and "." not in segments


# -- CDN_DOMAIN --------------------------------------------------------------------------------

DOMAINS_REFUSED = [
    ("https://cdn.example.com", "must not carry a scheme"),
    ("user@cdn.example.com", r"user information"),
    ("user:pw@cdn.example.com:443", r"user information"),
    ("cdn.example.com @evil", "whitespace"),
    (" cdn.example.com", "whitespace"),
    ("cdn.example.com\t", "whitespace"),
    ("cdn.example.com\x00", "control character"),
    ("cdn.example.com\x7f", "control character"),
    ("cdn.example.com:0", "invalid port"),
    ("cdn.example.com:65536", "invalid port"),
    ("cdn.example.com:99999999999999999999", "invalid port"),
    ("cdn.example.com:-1", "invalid port"),
    ("cdn.example.com:", "invalid port"),
    ("cdn.example.com:http", "invalid port"),
    ("/static-prefix", "valid host name"),
    (":8443", "valid host name"),
    ("::1", "valid host name"),
    ("[::1", "valid host name"),
    ("[evil.example]", "valid host name"),
    ("cdn.exämple.com", "valid host name"),
    ("-cdn.example.com", "valid host name"),
    ("cdn.example.com?x=1", r"'\?', '#'"),
    ("cdn.example.com#x", r"'\?', '#'"),
    ("cdn.example.com\\evil.example", r"'\?', '#'"),
    ("cdn.example.com/a b", "whitespace"),
    ("cdn.example.com/pre%fix<", "percent-encoded"),
]

DOMAINS_ACCEPTED = [
    ("cdn.example.com", "cdn.example.com", None, ""),
    ("cdn.example.com/", "cdn.example.com", None, ""),
    ("CDN.Example.COM:8443", "cdn.example.com", 8443, ""),
    ("[::1]:8443", "::1", 8443, ""),
    ("[::1]", "::1", None, ""),
    ("[fe80::1%25eth0]", "fe80::1%25eth0", None, ""),
    ("127.0.0.1:65535", "127.0.0.1", 65535, ""),
    ("localhost:1", "localhost", 1, ""),
    ("cdn.example.com/assets/v2/", "cdn.example.com", None, "/assets/v2"),
    ("cdn.example.com/@evil.example", "cdn.example.com", None, "/@evil.example"),
]


@pytest.mark.parametrize(("domain", "reason"), DOMAINS_REFUSED, ids=repr)
def test_cdn_domain_refused_at_init_app(tmp_path: Path, domain: str, reason: str) -> None:
    app = Quart(__name__)
    app.config["CDN_DOMAIN"] = domain
    with pytest.raises(ValueError, match="CDN_DOMAIN") as info:
        CDN(app)
    assert re.search(reason, str(info.value)), str(info.value)


@pytest.mark.parametrize(("domain", "host", "port", "prefix"), DOMAINS_ACCEPTED, ids=repr)
async def test_cdn_domain_accepted(
    tmp_path: Path, domain: str, host: str, port: int | None, prefix: str
) -> None:
    app, _ = make_app(tmp_path, CDN_TIMESTAMP=False)
    app.config["CDN_DOMAIN"] = domain
    CDN(app)
    async with app.app_context():
        url = url_for("static", filename="js/app.js")
    parts = urlsplit(url)
    assert (parts.hostname, parts.port, parts.username) == (host, port, None)
    assert parts.path == f"{prefix}/static/js/app.js"


@PROPERTIES
@given(domain=st.one_of(texts, st.from_regex(r"[a-z0-9.\-\[\]:@/%]{1,30}", fullmatch=True)))
def test_cdn_domain_fuzz_refused_or_a_clean_host(domain: str) -> None:
    """Any value is refused with a ValueError naming CDN_DOMAIN, or gives a URL whose
    authority is exactly the host and port given, with no user information."""
    try:
        normalized = normalize_domain(domain)
    except ValueError as exc:
        assert "CDN_DOMAIN" in str(exc)
        return
    if normalized is None:
        assert not domain
        return
    parts = urlsplit(f"https://{normalized}/static/x.js")
    assert parts.username is None and parts.password is None
    assert parts.port is None or 0 < parts.port < 65536
    assert parts.netloc == normalized.partition("/")[0]
    assert parts.hostname
    assert parts.path.endswith("/static/x.js")


async def test_deeply_nested_json_is_a_parse_error(tmp_path: Path) -> None:
    manifest = tmp_path / "m.json"
    manifest.write_text('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(ManifestParseError, match=r"entry 'a' has value \[\.\.\.\] of type list"):
        await source_for(str(manifest)).load()
