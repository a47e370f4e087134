"""The Starlette adapter: the contract's Starlette section.

Apps are driven through their real lifespan with asgi-lifespan's ``LifespanManager`` and
requests go through ``httpx.ASGITransport``; manifests come from files in ``tmp_path`` and
from the real HTTP server of ``tests/conftest.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import json
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import httpx
import jinja2
import pytest
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, NoMatchFound, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp

from quart_cdn import ManifestError, ManifestNotLoadedError, NotInManifestError
from quart_cdn._config import DEFAULTS, CDNConfig
from quart_cdn.starlette import StarletteCDN

DOMAIN = "cdn.example.com"
MTIME = 1_700_000_000
ASSETS_MTIME = 1_600_000_000
ADMIN_MTIME = 1_500_000_000
HASHED = "css/app.1a2b3c4d.css"
MAPPING = json.dumps({"css/app.css": HASHED}).encode()
CHECKSUM = "5d41402abc4b2a76"
CHECKSUMS = f"{CHECKSUM}  static/css/app.css\n".encode()
TEMPLATES = {
    "url.html": "{{ url_for(name, **params) }}",
    "page.html": "{{ url_for('static', path='css/app.css') }} {{ url_for('home') }}",
}


class ManifestServer(Protocol):
    """The API of the ``manifest_server`` fixture in ``tests/conftest.py``."""

    def set(self, path: str, body: bytes, *, status: int = 200) -> None: ...

    def url(self, path: str) -> str: ...

    @property
    def requests(self) -> Sequence[object]: ...


def write_file(path: Path, body: bytes = b"/* asset */\n", *, mtime: int = MTIME) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    os.utime(path, (mtime, mtime))
    return path


def make_templates(cdn: StarletteCDN) -> Jinja2Templates:
    templates = Jinja2Templates(env=jinja2.Environment(loader=jinja2.DictLoader(TEMPLATES)))
    cdn.install(templates)
    return templates


def make_app(
    cdn: StarletteCDN, static_dir: Path, *routes: BaseRoute, lifespan: Any = "cdn"
) -> Starlette:
    """An app with ``/`` (``home``), ``/url?name=...&<params>`` and ``/static``."""
    templates = make_templates(cdn)

    async def home(request: Request) -> Response:
        return templates.TemplateResponse(request, "page.html")

    async def url(request: Request) -> Response:
        params = dict(request.query_params)
        name = params.pop("name", "static")
        return templates.TemplateResponse(request, "url.html", {"name": name, "params": params})

    return Starlette(
        routes=[
            Route("/", home, name="home"),
            Route("/url", url),
            Mount("/static", StaticFiles(directory=static_dir), name="static"),
            *routes,
        ],
        lifespan=cdn.lifespan if lifespan == "cdn" else lifespan,
    )


@contextlib.asynccontextmanager
async def serve(
    app: ASGIApp, *, base_url: str = "http://testserver", root_path: str = ""
) -> AsyncIterator[httpx.AsyncClient]:
    """Run ``app``'s lifespan and yield a client for it."""
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app, root_path=root_path)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client


async def get_url(client: httpx.AsyncClient, prefix: str = "", **params: str) -> str:
    response = await client.get(f"{prefix}/url", params={"path": "css/app.css", **params})
    assert response.status_code == 200
    return response.text


async def wait_for(predicate: Any, timeout: float = 5.0) -> None:
    """Poll ``predicate()`` without sleeping longer than needed (bounded)."""
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


@pytest.fixture
def static_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "static"
    write_file(folder / "css" / "app.css")
    return folder


@pytest.fixture
def manifest_file(tmp_path: Path) -> Path:
    return write_file(tmp_path / "manifest.json", MAPPING)


# -- Construction -----------------------------------------------------------------------------


def test_starlette_cdn_defaults_match_the_quart_keys() -> None:
    """Every keyword mirrors a ``CDN_*`` key with its default; ``debug`` defaults to False."""
    parameters = inspect.signature(StarletteCDN).parameters
    assert set(parameters) - {"source"} == set(DEFAULTS)  # source= is an object, not a setting
    for name, default in DEFAULTS.items():
        assert parameters[name].kind is inspect.Parameter.KEYWORD_ONLY
        expected = False if name == "debug" else default
        assert parameters[name].default == expected, name
    assert StarletteCDN().config == CDNConfig()


@pytest.mark.parametrize(
    ("settings", "keyword"),
    [
        ({"domain": "https://cdn.example.com"}, "domain="),
        ({"domain": "cdn.example.com:99999"}, "domain="),
        ({"https": "yes"}, "https="),
        ({"endpoints": "static"}, "endpoints="),
        ({"manifest": True}, "manifest_url="),
        ({"manifest_refresh": -1}, "manifest_refresh="),
        ({"manifest_timeout": 0}, "manifest_timeout="),
        ({"manifest_max_bytes": 0}, "manifest_max_bytes="),
    ],
)
def test_starlette_cdn_invalid_setting_names_the_keyword(
    settings: dict[str, Any], keyword: str
) -> None:
    with pytest.raises(ValueError, match=keyword):
        StarletteCDN(**settings)


def test_starlette_module_is_not_imported_by_the_package() -> None:
    code = "import sys, quart_cdn; assert 'quart_cdn.starlette' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("missing", ["starlette", "jinja2"])
def test_starlette_import_without_extra_gives_install_hint(
    monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    for name in list(sys.modules):
        if name == missing or name.startswith(missing + "."):
            monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, missing, None)
    monkeypatch.delitem(sys.modules, "quart_cdn.starlette")

    with pytest.raises(ImportError, match=r"pip install 'quart-cdn\[starlette\]'"):
        importlib.import_module("quart_cdn.starlette")


# -- URLs -------------------------------------------------------------------------------------


async def test_starlette_template_gives_cdn_url_with_timestamp(static_dir: Path) -> None:
    app = make_app(StarletteCDN(domain=DOMAIN), static_dir)
    async with serve(app) as client:
        page = (await client.get("/")).text
        asset = await client.get("/static/css/app.css")

    assert page == f"http://{DOMAIN}/static/css/app.css?t={MTIME} http://testserver/"
    assert asset.status_code == 200


@pytest.mark.parametrize("settings", [{}, {"domain": DOMAIN, "debug": True}])
async def test_starlette_without_domain_or_in_debug_is_starlettes_own(
    static_dir: Path, settings: dict[str, Any]
) -> None:
    app = make_app(StarletteCDN(**settings), static_dir)
    async with serve(app) as client:
        assert await get_url(client) == "http://testserver/static/css/app.css"


async def test_starlette_timestamp_off_or_missing_file_gives_no_version(
    static_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(StarletteCDN(domain=DOMAIN), static_dir)
    plain = make_app(StarletteCDN(domain=DOMAIN, timestamp=False), static_dir)
    async with serve(app) as client, serve(plain) as plain_client:
        missing = await get_url(client, path="css/missing.css")
        leading_slash = await get_url(client, path="/css/app.css")
        untimed = await get_url(plain_client)

    assert missing == f"http://{DOMAIN}/static/css/missing.css"
    assert leading_slash == f"http://{DOMAIN}/static/css/app.css?t={MTIME}"
    assert untimed == f"http://{DOMAIN}/static/css/app.css"
    assert "css/missing.css" in caplog.text


async def test_starlette_timestamp_is_read_once_and_cached(static_dir: Path) -> None:
    app = make_app(StarletteCDN(domain=DOMAIN), static_dir)
    async with serve(app) as client:
        before = await get_url(client)
        write_file(static_dir / "css" / "app.css", mtime=MTIME + 100)
        after = await get_url(client)

    assert before == after == f"http://{DOMAIN}/static/css/app.css?t={MTIME}"


async def test_starlette_each_mount_uses_its_own_directory(
    static_dir: Path, tmp_path: Path
) -> None:
    """A second named mount and a ``<mount>:static`` nested mount read their own folders."""
    write_file(tmp_path / "assets" / "js" / "app.js", mtime=ASSETS_MTIME)
    write_file(tmp_path / "admin" / "a.js", mtime=ADMIN_MTIME)
    cdn = StarletteCDN(domain=DOMAIN, endpoints=["static", "assets"])
    app = make_app(
        cdn,
        static_dir,
        Mount("/assets", StaticFiles(directory=tmp_path / "assets"), name="assets"),
        Mount(
            "/admin",
            routes=[Mount("/static", StaticFiles(directory=tmp_path / "admin"), name="static")],
            name="admin",
        ),
    )
    async with serve(app) as client:
        assets = await get_url(client, name="assets", path="js/app.js")
        admin = await get_url(client, name="admin:static", path="a.js")
        static = await get_url(client)

    assert assets == f"http://{DOMAIN}/assets/js/app.js?t={ASSETS_MTIME}"
    assert admin == f"http://{DOMAIN}/admin/static/a.js?t={ADMIN_MTIME}"
    assert static == f"http://{DOMAIN}/static/css/app.css?t={MTIME}"


async def test_starlette_other_names_are_untouched(static_dir: Path, tmp_path: Path) -> None:
    write_file(tmp_path / "assets" / "x.js")
    app = make_app(
        StarletteCDN(domain=DOMAIN),
        static_dir,
        Mount("/assets", StaticFiles(directory=tmp_path / "assets"), name="assets"),
    )
    async with serve(app) as client:
        home = (await client.get("/url", params={"name": "home"})).text
        assets = await get_url(client, name="assets", path="x.js")
        with pytest.raises(NoMatchFound):
            await client.get("/url", params={"name": "nowhere"})
        with pytest.raises(NoMatchFound):  # a CDN name with wrong params fails as Starlette's
            await client.get("/url", params={"filename": "x.js"})

    assert home == "http://testserver/"
    assert assets == "http://testserver/assets/x.js"


async def test_starlette_root_path_is_honoured(static_dir: Path) -> None:
    cdn = StarletteCDN(domain=DOMAIN)
    app = make_app(cdn, static_dir)
    outer = Starlette(routes=[Mount("/outer", app=app)], lifespan=cdn.lifespan)
    async with serve(app, root_path="/sub") as client, serve(outer) as outer_client:
        behind_proxy = await get_url(client, prefix="/sub")
        home = (await client.get("/sub/url", params={"name": "home"})).text
        mounted = await get_url(outer_client, prefix="/outer")
        plain = await get_url(client)

    assert behind_proxy == f"http://{DOMAIN}/sub/static/css/app.css?t={MTIME}"
    assert home == "http://testserver/sub/"
    assert mounted == f"http://{DOMAIN}/outer/static/css/app.css?t={MTIME}"
    assert plain == behind_proxy  # the root path comes from the server, not the request path


@pytest.mark.parametrize(
    ("https", "request_scheme", "expected"),
    [
        (None, "http", "http"),
        (None, "https", "https"),
        (True, "http", "https"),
        (True, "https", "https"),
        (False, "http", "http"),
        (False, "https", "http"),
    ],
)
async def test_starlette_https_setting_picks_the_scheme(
    static_dir: Path, https: bool | None, request_scheme: str, expected: str
) -> None:
    app = make_app(StarletteCDN(domain=DOMAIN, https=https), static_dir)
    async with serve(app, base_url=f"{request_scheme}://testserver") as client:
        url = await get_url(client)

    assert url == f"{expected}://{DOMAIN}/static/css/app.css?t={MTIME}"


async def test_starlette_renders_outside_a_request_once_started(static_dir: Path) -> None:
    cdn = StarletteCDN(domain=DOMAIN, https=True)
    templates = make_templates(cdn)
    app = make_app(cdn, static_dir)
    async with serve(app):
        url = templates.get_template("url.html").render(name="static", params={"path": "a.css"})

    assert url == f"https://{DOMAIN}/static/a.css"


# -- Manifest ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (MAPPING, f"http://{DOMAIN}/static/{HASHED}"),
        (CHECKSUMS, f"http://{DOMAIN}/static/css/app.css?c={CHECKSUM}"),
    ],
    ids=["mapping", "checksum"],
)
async def test_starlette_manifest_from_file_loaded_at_startup(
    static_dir: Path, tmp_path: Path, body: bytes, expected: str
) -> None:
    manifest = write_file(tmp_path / "manifest", body)
    cdn = StarletteCDN(domain=DOMAIN, manifest=True, manifest_url=str(manifest))
    assert cdn.manifest is None
    async with serve(make_app(cdn, static_dir)) as client:
        assert cdn.manifest is not None
        url = await get_url(client)

    assert url == expected


async def test_starlette_manifest_from_http_server(
    static_dir: Path, manifest_server: ManifestServer
) -> None:
    manifest_server.set("/manifest.json", MAPPING)
    cdn = StarletteCDN(
        domain=DOMAIN, manifest=True, manifest_url=manifest_server.url("/manifest.json")
    )
    async with serve(make_app(cdn, static_dir)) as client:
        url = await get_url(client)

    assert url == f"http://{DOMAIN}/static/{HASHED}"
    assert len(manifest_server.requests) == 1


async def test_starlette_strict_startup_fails_on_unloadable_manifest(
    static_dir: Path, manifest_server: ManifestServer
) -> None:
    manifest_server.set("/manifest.json", b"gone", status=404)
    cdn = StarletteCDN(
        domain=DOMAIN, manifest=True, manifest_url=manifest_server.url("/manifest.json")
    )

    with pytest.raises(ManifestError, match="404"):
        async with serve(make_app(cdn, static_dir)):
            pass  # pragma: no cover
    assert cdn.manifest is None
    assert cdn.core.refresher is not None and cdn.core.refresher.task is None


async def test_starlette_lenient_startup_falls_back_then_retries(
    static_dir: Path, manifest_server: ManifestServer, caplog: pytest.LogCaptureFixture
) -> None:
    manifest_server.set("/manifest.json", b"gone", status=404)
    cdn = StarletteCDN(
        domain=DOMAIN,
        manifest=True,
        manifest_url=manifest_server.url("/manifest.json"),
        manifest_strict=False,
    )
    refresher = cdn.core.refresher
    assert refresher is not None
    with caplog.at_level(logging.WARNING, logger="quart_cdn"):
        async with serve(make_app(cdn, static_dir)) as client:
            fallback = await get_url(client)
            manifest_server.set("/manifest.json", MAPPING)
            refresher.refresh_now()
            await wait_for(lambda: cdn.manifest is not None)
            loaded = await get_url(client)
    assert refresher.task is None

    assert fallback == f"http://{DOMAIN}/static/css/app.css?t={MTIME}"
    assert loaded == f"http://{DOMAIN}/static/{HASHED}"
    assert "404" in caplog.text


async def test_starlette_url_before_startup_is_a_manifest_error(
    static_dir: Path, manifest_file: Path
) -> None:
    cdn = StarletteCDN(domain=DOMAIN, manifest=True, manifest_url=str(manifest_file))
    transport = httpx.ASGITransport(app=make_app(cdn, static_dir))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        with pytest.raises(ManifestNotLoadedError, match="No manifest has been loaded yet"):
            await get_url(client)


@pytest.mark.parametrize("strict", [True, False])
async def test_starlette_file_missing_from_manifest(
    static_dir: Path, manifest_file: Path, strict: bool
) -> None:
    write_file(static_dir / "js" / "other.js")
    cdn = StarletteCDN(
        domain=DOMAIN, manifest=True, manifest_url=str(manifest_file), manifest_strict=strict
    )
    async with serve(make_app(cdn, static_dir)) as client:
        # A file in the static folder that a JSON manifest does not list (as Vite's public/
        # files) takes the timestamp rule, strict or not (turn 2); a name that is neither
        # listed nor a file is refused in strict mode.
        url = await get_url(client, path="js/other.js")
        assert url == f"http://{DOMAIN}/static/js/other.js?t={MTIME}"
        if strict:
            with pytest.raises(NotInManifestError, match="static/js/absent.js not found"):
                await get_url(client, path="js/absent.js")
        else:
            url = await get_url(client, path="js/absent.js")
            assert url == f"http://{DOMAIN}/static/js/absent.js"


async def test_starlette_refresh_swaps_manifest_and_urls(
    static_dir: Path, manifest_file: Path
) -> None:
    cdn = StarletteCDN(domain=DOMAIN, manifest=True, manifest_url=str(manifest_file))
    async with serve(make_app(cdn, static_dir)) as client:
        first = cdn.manifest
        v1 = await get_url(client)
        v2_body = json.dumps({"css/app.css": "css/app.99999999.css"}).encode()
        write_file(manifest_file, v2_body, mtime=MTIME + 60)
        refreshed = await cdn.refresh()
        v2 = await get_url(client)
        manifest_file.unlink()
        with pytest.raises(ManifestError, match="does not exist"):
            await cdn.refresh()
        still = await get_url(client)

    assert first is not None and refreshed is not first
    assert cdn.manifest is refreshed
    assert v1 == f"http://{DOMAIN}/static/{HASHED}"
    assert v2 == still == f"http://{DOMAIN}/static/css/app.99999999.css"


async def test_starlette_refresh_without_manifest_raises() -> None:
    with pytest.raises(RuntimeError, match="manifest= is off"):
        await StarletteCDN(domain=DOMAIN).refresh()


async def test_starlette_background_refresh_picks_up_new_manifest(
    static_dir: Path, manifest_server: ManifestServer
) -> None:
    manifest_server.set("/manifest.json", MAPPING)
    cdn = StarletteCDN(
        domain=DOMAIN,
        manifest=True,
        manifest_url=manifest_server.url("/manifest.json"),
        manifest_refresh=30,
    )
    refresher = cdn.core.refresher
    assert refresher is not None
    async with serve(make_app(cdn, static_dir)) as client:
        v1 = await get_url(client)
        first = cdn.manifest
        manifest_server.set("/manifest.json", json.dumps({"css/app.css": "css/app.2.css"}).encode())
        refresher.refresh_now()
        await wait_for(lambda: cdn.manifest is not first)
        v2 = await get_url(client)
        assert refresher.task is not None
    assert refresher.task is None

    assert v1 == f"http://{DOMAIN}/static/{HASHED}"
    assert v2 == f"http://{DOMAIN}/static/css/app.2.css"


async def test_starlette_async_with_inside_own_lifespan(
    static_dir: Path, manifest_file: Path
) -> None:
    cdn = StarletteCDN(domain=DOMAIN, manifest=True, manifest_url=str(manifest_file))
    entered: list[object] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        async with cdn as started:
            entered.append(started)
            yield {"greeting": "hello"}

    app = make_app(cdn, static_dir, lifespan=lifespan)
    async with serve(app) as client:
        url = await get_url(client)
        loaded = cdn.manifest

    assert entered == [cdn]
    assert loaded is not None
    assert url == f"http://{DOMAIN}/static/{HASHED}"


async def test_starlette_one_page_keeps_one_manifest(static_dir: Path, manifest_file: Path) -> None:
    """A manifest swapped in while a page renders reaches the next request, not the page."""
    cdn = StarletteCDN(domain=DOMAIN, manifest=True, manifest_url=str(manifest_file))
    templates = make_templates(cdn)

    async def page(request: Request) -> Response:
        first = templates.get_template("url.html").render(
            request=request, name="static", params={"path": "css/app.css"}
        )
        write_file(manifest_file, json.dumps({"css/app.css": "css/app.2.css"}).encode(), mtime=1)
        await cdn.refresh()  # the new manifest is in force from here on
        second = templates.get_template("url.html").render(
            request=request, name="static", params={"path": "css/app.css"}
        )
        return Response(f"{first} {second}")

    app = make_app(cdn, static_dir, Route("/page", page))
    async with serve(app) as client:
        during = (await client.get("/page")).text
        after = await get_url(client)
    assert during == f"http://{DOMAIN}/static/{HASHED} http://{DOMAIN}/static/{HASHED}"
    assert after == f"http://{DOMAIN}/static/css/app.2.css"
