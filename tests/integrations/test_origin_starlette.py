"""Origin responses with Starlette: the ``StaticFiles`` mounts named in ``endpoints`` (top level
and nested) answer by the origin rules once the lifespan has run; other routes and mounts
keep Starlette's behaviour. Driven through the real lifespan and ``httpx.ASGITransport``.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import brotli  # type: ignore[import-untyped]
import httpx
import pytest
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from quart_cdn.starlette import StarletteCDN

DOMAIN = "cdn.example.com"
MTIME = 1_700_000_000
CSS = b"h1 { color: rgb(0, 102, 204) }\n" * 40
ADMIN_JS = b"// admin\n"
CHECKSUM = hashlib.md5(CSS).hexdigest()
OLD = "0123456789abcdef0123456789abcdef"
ADMIN_CHECKSUM = hashlib.sha256(ADMIN_JS).hexdigest()  # any algorithm the CLI offers
HASHED = "css/app.1a2b3c4d.css"
IMMUTABLE = "public, max-age=31536000, immutable"


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
    write(tmp_path / "other/o.js", b"// not a CDN endpoint\n")
    (tmp_path / "checksums.txt").write_text(
        # plain.js is listed with a checksum of other bytes: a manifest ahead of the files.
        f"{CHECKSUM}  static/css/app.css\n{CHECKSUM}  static/js/plain.js\n"
        f"{ADMIN_CHECKSUM}  admin/static/x.js\n"
    )
    (tmp_path / "mapping.json").write_text(json.dumps({"css/app.css": HASHED}))
    return tmp_path


async def page(request: Request) -> PlainTextResponse:
    return PlainTextResponse("page")


@contextlib.asynccontextmanager
async def client(site: Path, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A started app with ``StarletteCDN(**settings)`` and a client for it."""
    cdn = StarletteCDN(domain=DOMAIN, **settings)
    app = Starlette(
        routes=[
            Route("/page", page),
            Mount("/static", StaticFiles(directory=site / "static"), name="static"),
            Mount(
                "/admin",
                routes=[
                    Mount("/static", StaticFiles(directory=site / "admin_static"), name="static")
                ],
                name="admin",
            ),
            Mount("/other", StaticFiles(directory=site / "other"), name="other"),
        ],
        lifespan=cdn.lifespan,
    )
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        # No Accept-Encoding unless a test sends one (httpx would send gzip by default).
        async with httpx.AsyncClient(
            transport=transport, base_url="http://app", headers={"Accept-Encoding": "identity"}
        ) as http:
            yield http


def checksums(site: Path) -> dict[str, Any]:
    return {"manifest": True, "manifest_url": str(site / "checksums.txt")}


# -- caching by version -------------------------------------------------------------------


async def test_starlette_origin_checksum_versions(site: Path) -> None:
    async with client(site, **checksums(site)) as http:
        current = await http.get(f"/static/css/app.css?c={CHECKSUM}")
        assert current.headers["cache-control"] == IMMUTABLE
        assert current.content == CSS
        for version in (OLD, "ffffffffffffffffffffffffffffffff"):  # both directions
            other = await http.get(f"/static/css/app.css?c={version}")
            assert other.status_code == 200
            assert other.headers["cache-control"] == "no-store"
            assert other.content == CSS
        unversioned = await http.get("/static/css/app.css")
        assert "cache-control" not in unversioned.headers  # Starlette's own: none
        # The manifest names other bytes than this instance's (a manifest shared mid-deploy).
        ahead = await http.get(f"/static/js/plain.js?c={CHECKSUM}")
        assert ahead.headers["cache-control"] == "no-store"


async def test_starlette_origin_404(site: Path) -> None:
    async with client(site, **checksums(site)) as http:
        versioned = await http.get(f"/static/css/gone.css?c={CHECKSUM}")
        assert versioned.status_code == 404
        assert versioned.headers["cache-control"] == "no-store"
        assert versioned.headers["access-control-allow-origin"] == "*"
        unversioned = await http.get("/static/css/gone.css")
        assert unversioned.status_code == 404
        assert "cache-control" not in unversioned.headers


async def test_starlette_origin_nested_mount(site: Path) -> None:
    async with client(site, **checksums(site)) as http:
        current = await http.get(f"/admin/static/x.js?c={ADMIN_CHECKSUM}")
        assert current.headers["cache-control"] == IMMUTABLE
        other = await http.get(f"/admin/static/x.js?c={CHECKSUM}")
        assert other.headers["cache-control"] == "no-store"


async def test_starlette_origin_timestamp(site: Path) -> None:
    async with client(site) as http:
        current = await http.get(f"/static/js/plain.js?t={MTIME}")
        assert current.headers["cache-control"] == IMMUTABLE
        other = await http.get(f"/static/js/plain.js?t={MTIME - 1}")
        assert other.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("path", "status", "cache_control"),
    [
        (f"/static/{HASHED}", 200, IMMUTABLE),
        ("/static/css/app.99999999.css", 404, "no-store"),
        ("/static/css/app.0ld0ld00.css", 200, None),
        (f"/static/css/app.css?t={MTIME}", 200, "no-store"),
    ],
)
async def test_starlette_origin_hashed_names(
    site: Path, path: str, status: int, cache_control: str | None
) -> None:
    async with client(site, manifest=True, manifest_url=str(site / "mapping.json")) as http:
        response = await http.get(path)
        assert response.status_code == status
        assert response.headers.get("cache-control") == cache_control


async def test_starlette_origin_cache_off(site: Path) -> None:
    async with client(site, origin_cache=False, **checksums(site)) as http:
        for version in (CHECKSUM, OLD):
            response = await http.get(f"/static/css/app.css?c={version}")
            assert "cache-control" not in response.headers


async def test_starlette_origin_needs_the_lifespan(site: Path) -> None:
    """Without the lifespan the mounts are Starlette's own; with the CDN off, too."""
    cdn = StarletteCDN(domain=DOMAIN)
    app = Starlette(
        routes=[Mount("/static", StaticFiles(directory=site / "static"), name="static")]
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://a") as h:
        response = await h.get(f"/static/js/plain.js?t={MTIME}")
        assert "access-control-allow-origin" not in response.headers
    assert cdn.origin.enabled
    async with client(site, debug=True) as http:
        response = await http.get(f"/static/js/plain.js?t={MTIME}")
        assert "access-control-allow-origin" not in response.headers
        assert "cache-control" not in response.headers


async def test_starlette_origin_lifespan_twice_applies_once(site: Path) -> None:
    cdn = StarletteCDN(domain=DOMAIN)
    static = StaticFiles(directory=site / "static")
    app = Starlette(routes=[Mount("/static", static, name="static")], lifespan=cdn.lifespan)
    for _ in range(2):
        async with LifespanManager(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://a") as http:
                response = await http.get(f"/static/js/plain.js?t={MTIME}")
                assert response.headers["cache-control"] == IMMUTABLE
                assert response.headers["access-control-allow-origin"] == "*"


# -- CORS ---------------------------------------------------------------------------------


async def test_starlette_cors_on_cdn_mounts_only(site: Path) -> None:
    async with client(site) as http:
        static = await http.get("/static/js/plain.js")
        assert static.headers["access-control-allow-origin"] == "*"
        assert "vary" not in static.headers
        nested = await http.get("/admin/static/x.js")
        assert nested.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-origin" not in (await http.get("/page")).headers
        other = await http.get("/other/o.js")
        assert other.status_code == 200
        assert "access-control-allow-origin" not in other.headers


async def test_starlette_cors_one_origin_and_off(site: Path) -> None:
    async with client(site, cors="https://app.example.com") as http:
        one = await http.get("/static/js/plain.js")
        assert one.headers["access-control-allow-origin"] == "https://app.example.com"
        assert one.headers["vary"] == "Origin"
    async with client(site, cors=None) as http:
        off = await http.get("/static/js/plain.js")
        assert "access-control-allow-origin" not in off.headers
        assert (await http.options("/static/js/plain.js")).status_code == 405


async def test_starlette_cors_preflight(site: Path) -> None:
    headers = {
        "Origin": "https://app.example.com",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "range",
    }
    async with client(site) as http:
        response = await http.options("/static/js/plain.js", headers=headers)
        assert response.status_code == 204
        assert response.headers["access-control-allow-origin"] == "*"
        assert response.headers["access-control-allow-methods"] == "GET, HEAD"
        assert response.headers["access-control-allow-headers"] == "range"


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
async def test_starlette_precompressed_variant(
    site: Path, accept: str, suffix: str, encoding: str | None
) -> None:
    async with client(site) as http:
        request = http.build_request(
            "GET", "/static/css/app.css", headers={"Accept-Encoding": accept}
        )
        response = await http.send(request, stream=True)
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
        assert raw == (site / "static" / f"css/app.css{suffix}").read_bytes()
        assert response.headers.get("content-encoding") == encoding
        assert response.headers["content-type"] == "text/css; charset=utf-8"
        assert response.headers["vary"] == "Accept-Encoding"


async def test_starlette_precompressed_no_siblings_and_off(site: Path) -> None:
    async with client(site) as http:
        plain = await http.get("/static/js/plain.js", headers={"Accept-Encoding": "br"})
        assert "content-encoding" not in plain.headers
        assert "vary" not in plain.headers
    async with client(site, precompressed=False) as http:
        off = await http.get("/static/css/app.css", headers={"Accept-Encoding": "br"})
        assert off.content == CSS
        assert "content-encoding" not in off.headers


async def test_starlette_precompressed_etag_and_304_per_variant(site: Path) -> None:
    tags = {}
    async with client(site) as http:
        for accept in ("br", "gzip", "identity"):
            first = await http.get("/static/css/app.css", headers={"Accept-Encoding": accept})
            tags[accept] = first.headers["etag"]
            again = await http.get(
                "/static/css/app.css",
                headers={"Accept-Encoding": accept, "If-None-Match": tags[accept]},
            )
            assert again.status_code == 304
            assert again.headers["vary"] == "Accept-Encoding"
            assert again.headers["access-control-allow-origin"] == "*"
        assert len(set(tags.values())) == 3
        cross = await http.get(
            "/static/css/app.css", headers={"Accept-Encoding": "gzip", "If-None-Match": tags["br"]}
        )
        assert cross.status_code == 200
        since = await http.get(
            "/static/css/app.css",
            headers={
                "Accept-Encoding": "gzip",
                "If-Modified-Since": "Thu, 01 Jan 2037 00:00:00 GMT",
            },
        )
        assert since.status_code == 304


async def test_starlette_precompressed_range_on_a_variant(site: Path) -> None:
    async with client(site) as http:
        request = http.build_request(
            "GET", "/static/css/app.css", headers={"Accept-Encoding": "gzip", "Range": "bytes=2-9"}
        )
        response = await http.send(request, stream=True)
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
        assert response.status_code == 206
        assert response.headers["content-encoding"] == "gzip"
        assert raw == (site / "static/css/app.css.gz").read_bytes()[2:10]
