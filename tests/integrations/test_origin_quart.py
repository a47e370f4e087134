"""Origin responses with Quart's test client: the contract's "Origin responses" for the app's
and blueprints' static routes (caching by version, CORS, precompressed siblings, conditional
requests and ranges on every variant), and Quart's own behaviour everywhere else.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import brotli  # type: ignore[import-untyped]
import pytest
from quart import Blueprint, Quart
from quart.typing import TestClientProtocol as Client

from quart_cdn import CDN

DOMAIN = "cdn.example.com"
MTIME = 1_700_000_000
CSS = b"h1 { color: rgb(0, 102, 204) }\n" * 40
ADMIN_JS = b"// admin\n"
CHECKSUM = hashlib.md5(CSS).hexdigest()
OLD = "0123456789abcdef0123456789abcdef"
ADMIN_CHECKSUM = hashlib.sha256(ADMIN_JS).hexdigest()  # any algorithm the CLI offers
HASHED = "css/app.1a2b3c4d.css"
IMMUTABLE = "public, max-age=31536000, immutable"
QUART_DEFAULT = "public, max-age=43200"


def write(path: Path, body: bytes, mtime: int = MTIME) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    os.utime(path, (mtime, mtime))
    return path


@pytest.fixture
def site(tmp_path: Path) -> Path:
    static = tmp_path / "static"
    write(static / "css/app.css", CSS)
    write(static / "css/app.css.gz", gzip.compress(CSS, mtime=0))
    write(static / "css/app.css.br", brotli.compress(CSS))
    write(static / HASHED, CSS)
    write(static / "css/app.0ld0ld00.css", b"old build")
    write(static / "js/plain.js", b"// no siblings\n")
    write(tmp_path / "admin_static/x.js", ADMIN_JS)
    (tmp_path / "checksums.txt").write_text(
        # plain.js is listed with a checksum of other bytes: a manifest ahead of the files.
        f"{CHECKSUM}  static/css/app.css\n{CHECKSUM}  static/js/plain.js\n"
        f"{ADMIN_CHECKSUM}  admin/static/x.js\n"
    )
    (tmp_path / "mapping.json").write_text(json.dumps({"css/app.css": HASHED}))
    return tmp_path


def make_app(site: Path, **config: Any) -> Quart:
    app = Quart(__name__, static_folder=str(site / "static"))
    app.config.update({"TESTING": True, "CDN_DOMAIN": DOMAIN, **config})
    CDN(app)
    # Registered after the extension, as apps often do: its static route is served too.
    admin = Blueprint(
        "admin", __name__, static_folder=str(site / "admin_static"), static_url_path="/static"
    )
    app.register_blueprint(admin, url_prefix="/admin")

    @app.route("/page")
    async def page() -> str:
        return "page"

    return app


@pytest.fixture
async def checksum_client(site: Path) -> AsyncIterator[Client]:
    app = make_app(site, CDN_MANIFEST=True, CDN_MANIFEST_URL=str(site / "checksums.txt"))
    async with app.test_app() as test_app:
        yield test_app.test_client()


async def serve(site: Path, path: str, headers: dict[str, str] | None = None, **config: Any) -> Any:
    """One GET against a started app made with ``config``."""
    app = make_app(site, **config)
    async with app.test_app() as test_app:
        return await test_app.test_client().get(path, headers=headers or {})


# -- caching by version -------------------------------------------------------------------


async def test_quart_origin_current_checksum_is_immutable(
    checksum_client: Client,
) -> None:
    response = await checksum_client.get(f"/static/css/app.css?c={CHECKSUM}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == IMMUTABLE
    assert "Expires" not in response.headers
    assert await response.get_data() == CSS


@pytest.mark.parametrize("version", [OLD, "ffffffffffffffffffffffffffffffff"])
async def test_quart_origin_other_checksum_is_current_bytes_no_store(
    checksum_client: Client, version: str
) -> None:
    """Both directions of a rolling deploy: the bytes this instance has, never kept."""
    response = await checksum_client.get(f"/static/css/app.css?c={version}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "Expires" not in response.headers
    assert await response.get_data() == CSS


async def test_quart_origin_checksum_of_other_bytes_is_no_store(
    checksum_client: Client,
) -> None:
    """A manifest shared by instances mid-deploy can name bytes this one does not have."""
    response = await checksum_client.get(f"/static/js/plain.js?c={CHECKSUM}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


async def test_quart_origin_unversioned_keeps_quart_caching(
    checksum_client: Client,
) -> None:
    response = await checksum_client.get("/static/css/app.css")
    assert response.headers["Cache-Control"] == QUART_DEFAULT
    assert "Expires" in response.headers


async def test_quart_origin_versioned_404_is_no_store(
    checksum_client: Client,
) -> None:
    response = await checksum_client.get(f"/static/css/gone.css?c={CHECKSUM}")
    assert response.status_code == 404
    assert response.headers["Cache-Control"] == "no-store"
    unversioned = await checksum_client.get("/static/css/gone.css")
    assert unversioned.status_code == 404
    assert "Cache-Control" not in unversioned.headers


async def test_quart_origin_blueprint_static(checksum_client: Client) -> None:
    current = await checksum_client.get(f"/admin/static/x.js?c={ADMIN_CHECKSUM}")
    assert current.headers["Cache-Control"] == IMMUTABLE
    assert current.headers["Access-Control-Allow-Origin"] == "*"
    other = await checksum_client.get(f"/admin/static/x.js?c={CHECKSUM}")
    assert other.headers["Cache-Control"] == "no-store"
    assert await other.get_data() == ADMIN_JS


async def test_quart_origin_timestamp(site: Path) -> None:
    current = await serve(site, f"/static/js/plain.js?t={MTIME}")
    assert current.headers["Cache-Control"] == IMMUTABLE
    other = await serve(site, f"/static/js/plain.js?t={MTIME + 1}")
    assert other.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("path", "status", "cache_control"),
    [
        (f"/static/{HASHED}", 200, IMMUTABLE),  # listed: the name is the version
        ("/static/css/app.99999999.css", 404, "no-store"),  # a new build's, not here yet
        ("/static/css/app.0ld0ld00.css", 200, QUART_DEFAULT),  # an old build's, still here
        (f"/static/css/app.css?t={MTIME}", 200, "no-store"),  # url_for gives the hashed name
    ],
)
async def test_quart_origin_hashed_names(
    site: Path, path: str, status: int, cache_control: str
) -> None:
    config: dict[str, Any] = {"CDN_MANIFEST": True, "CDN_MANIFEST_URL": str(site / "mapping.json")}
    response = await serve(site, path, **config)
    assert response.status_code == status
    assert response.headers["Cache-Control"] == cache_control


async def test_quart_origin_cache_off_leaves_quart_caching(site: Path) -> None:
    config: dict[str, Any] = {"CDN_MANIFEST": True, "CDN_MANIFEST_URL": str(site / "checksums.txt")}
    for version in (CHECKSUM, OLD):
        response = await serve(
            site, f"/static/css/app.css?c={version}", CDN_ORIGIN_CACHE=False, **config
        )
        assert response.headers["Cache-Control"] == QUART_DEFAULT


async def test_quart_origin_cdn_off_is_plain_quart(site: Path) -> None:
    for config in ({"CDN_DOMAIN": None}, {"CDN_DEBUG": True}):
        response = await serve(site, f"/static/js/plain.js?t={MTIME}", **config)
        assert response.headers["Cache-Control"] == QUART_DEFAULT
        assert "Access-Control-Allow-Origin" not in response.headers


# -- CORS ---------------------------------------------------------------------------------


async def test_quart_cors_on_cdn_static_routes_only(checksum_client: Client) -> None:
    static = await checksum_client.get("/static/js/plain.js")
    assert static.headers["Access-Control-Allow-Origin"] == "*"
    assert "Origin" not in static.headers.get("Vary", "")
    page = await checksum_client.get("/page")
    assert "Access-Control-Allow-Origin" not in page.headers
    missing = await checksum_client.get("/static/nope.js")
    assert missing.headers["Access-Control-Allow-Origin"] == "*"


async def test_quart_cors_not_on_static_routes_outside_cdn_endpoints(site: Path) -> None:
    response = await serve(site, "/static/js/plain.js", CDN_ENDPOINTS=["admin.static"])
    assert "Access-Control-Allow-Origin" not in response.headers
    admin = await serve(site, "/admin/static/x.js", CDN_ENDPOINTS=["admin.static"])
    assert admin.headers["Access-Control-Allow-Origin"] == "*"


async def test_quart_cors_one_origin_and_off(site: Path) -> None:
    one = await serve(site, "/static/js/plain.js", CDN_CORS="https://app.example.com")
    assert one.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "Origin" in one.headers["Vary"]
    off = await serve(site, "/static/js/plain.js", CDN_CORS=None)
    assert "Access-Control-Allow-Origin" not in off.headers


async def test_quart_cors_preflight(site: Path) -> None:
    app = make_app(site)
    client = app.test_client()
    headers = {
        "Origin": "https://app.example.com",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "range",
    }
    response = await client.options("/static/js/plain.js", headers=headers)
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Access-Control-Allow-Methods"] == "GET, HEAD"
    assert response.headers["Access-Control-Allow-Headers"] == "range"
    page = await client.options("/page", headers=headers)
    assert "Access-Control-Allow-Origin" not in page.headers


# -- precompressed siblings ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "suffix", "encoding"),
    [
        ("gzip, deflate, br", ".br", "br"),
        ("gzip", ".gz", "gzip"),
        ("br;q=0, gzip;q=0.8", ".gz", "gzip"),
        ("gzip;q=0.2, br;q=0.9", ".br", "br"),
        ("br;q=0, gzip;q=0", "", None),
        ("identity", "", None),
    ],
)
async def test_quart_precompressed_variant(
    site: Path, accept: str, suffix: str, encoding: str | None
) -> None:
    response = await serve(site, "/static/css/app.css", {"Accept-Encoding": accept})
    assert response.status_code == 200
    assert await response.get_data() == (site / "static" / f"css/app.css{suffix}").read_bytes()
    assert response.headers.get("Content-Encoding") == encoding
    assert response.headers["Content-Type"] == "text/css; charset=utf-8"
    assert response.headers["Vary"] == "Accept-Encoding"


async def test_quart_precompressed_no_siblings_no_vary(site: Path) -> None:
    response = await serve(site, "/static/js/plain.js", {"Accept-Encoding": "br, gzip"})
    assert "Content-Encoding" not in response.headers
    assert "Vary" not in response.headers


async def test_quart_precompressed_off(site: Path) -> None:
    response = await serve(
        site, "/static/css/app.css", {"Accept-Encoding": "br"}, CDN_PRECOMPRESSED=False
    )
    assert await response.get_data() == CSS
    assert "Content-Encoding" not in response.headers


async def test_quart_precompressed_etag_and_304_per_variant(site: Path) -> None:
    app = make_app(site)
    client = app.test_client()
    tags = {}
    for accept in ("br", "gzip", "identity"):
        first = await client.get("/static/css/app.css", headers={"Accept-Encoding": accept})
        tags[accept] = first.headers["ETag"]
        again = await client.get(
            "/static/css/app.css",
            headers={"Accept-Encoding": accept, "If-None-Match": tags[accept]},
        )
        assert again.status_code == 304
        assert again.headers["Vary"] == "Accept-Encoding"
        assert again.headers["Access-Control-Allow-Origin"] == "*"
    assert len(set(tags.values())) == 3
    # Another variant's tag does not validate this one.
    cross = await client.get(
        "/static/css/app.css", headers={"Accept-Encoding": "gzip", "If-None-Match": tags["br"]}
    )
    assert cross.status_code == 200
    since = await client.get(
        "/static/css/app.css",
        headers={"Accept-Encoding": "gzip", "If-Modified-Since": "Thu, 01 Jan 2037 00:00:00 GMT"},
    )
    assert since.status_code == 304


async def test_quart_precompressed_range_on_a_variant(site: Path) -> None:
    app = make_app(site)
    response = await app.test_client().get(
        "/static/css/app.css", headers={"Accept-Encoding": "gzip", "Range": "bytes=2-9"}
    )
    assert response.status_code == 206
    assert response.headers["Content-Encoding"] == "gzip"
    assert await response.get_data() == (site / "static/css/app.css.gz").read_bytes()[2:10]


async def test_quart_precompressed_sibling_removed_falls_back(site: Path) -> None:
    app = make_app(site)
    client = app.test_client()
    first = await client.get("/static/css/app.css", headers={"Accept-Encoding": "br"})
    assert first.headers["Content-Encoding"] == "br"
    (site / "static/css/app.css.br").unlink()
    second = await client.get("/static/css/app.css", headers={"Accept-Encoding": "br"})
    assert second.status_code == 200
    assert "Content-Encoding" not in second.headers
    assert await second.get_data() == CSS


async def test_quart_origin_head_request(site: Path) -> None:
    app = make_app(site)
    response = await app.test_client().head(
        f"/static/js/plain.js?t={MTIME}", headers={"Accept-Encoding": "br"}
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == IMMUTABLE


async def test_quart_origin_versioned_answers_keep_quart_conditionals(
    checksum_client: Client,
) -> None:
    """A versioned file is sent without Quart's caching headers but with its ETag,
    ``Last-Modified``, 304s and ranges, on every variant."""
    url = f"/static/css/app.css?c={CHECKSUM}"
    for accept, body in (("identity", CSS), ("br", brotli.compress(CSS))):
        headers = {"Accept-Encoding": accept}
        plain = await checksum_client.get("/static/css/app.css", headers=headers)
        versioned = await checksum_client.get(url, headers=headers)
        assert versioned.headers["ETag"] == plain.headers["ETag"]
        assert versioned.headers["Last-Modified"] == plain.headers["Last-Modified"]
        assert versioned.headers["Cache-Control"] == IMMUTABLE
        assert await versioned.get_data() == body
        etag = versioned.headers["ETag"]
        again = await checksum_client.get(url, headers={**headers, "If-None-Match": etag})
        assert again.status_code == 304
        assert again.headers["Cache-Control"] == IMMUTABLE
        ranged = await checksum_client.get(url, headers={**headers, "Range": "bytes=0-3"})
        assert ranged.status_code == 206
        assert await ranged.get_data() == body[:4]
