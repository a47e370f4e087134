"""Entries in a Starlette app: the installed ``entry_tags`` global, ``cdn.entry_assets``, the
request pin across a reload, the dev server's client once per request, and the ``Link``
header added by the installed templates' ``TemplateResponse``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import jinja2
import pytest
from _graphs import VITE, VITE_SRI, GraphSource, vite_manifest
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from quart_cdn import NotInManifestError
from quart_cdn._entries.graph import Chunk, EntryGraph
from quart_cdn.starlette import StarletteCDN

CDN_STATIC = "http://cdn.example.com/static"
TEMPLATES = {
    "page.html": "{{ entry_tags(*names, nonce=nonce) }}",
    "two.html": "{{ entry_tags('src/main.ts', nonce='n') }}\n{{ entry_tags('src/admin.ts') }}",
    "url.html": "{{ url_for('static', path='src/main.js') }}",
}


def make_app(cdn: StarletteCDN, static_dir: Path) -> Starlette:
    templates = Jinja2Templates(env=jinja2.Environment(loader=jinja2.DictLoader(TEMPLATES)))
    cdn.install(templates)
    cdn.install(templates)  # twice: one Link header all the same

    async def page(request: Request) -> Response:
        names = request.query_params.getlist("entry") or ["src/main.js"]
        context = {"names": names, "nonce": request.query_params.get("nonce")}
        return templates.TemplateResponse(request, "page.html", context)

    async def two(request: Request) -> Response:
        return templates.TemplateResponse(request=request, name="two.html")

    async def assets(request: Request) -> Response:
        found = cdn.entry_assets(request, request.query_params["entry"])
        return JSONResponse({"scripts": found.scripts, "styles": found.styles})

    async def swap(request: Request) -> Response:
        """Tags, a reload, tags again: all in one request."""
        before = cdn.entry_tags(request, "src/main.js")
        source: GraphSource = request.app.state.source
        source.manifest = vite_manifest(
            EntryGraph(chunks={"src/main.js": Chunk("assets/main-NEW.js", is_entry=True)})
        )
        await cdn.refresh()
        return JSONResponse({"same": cdn.entry_tags(request, "src/main.js") == before})

    static_dir.mkdir(exist_ok=True)
    return Starlette(
        routes=[
            Route("/page", page),
            Route("/two", two),
            Route("/assets", assets),
            Route("/swap", swap),
            Mount("/static", StaticFiles(directory=static_dir), name="static"),
        ],
        lifespan=cdn.lifespan,
    )


@contextlib.asynccontextmanager
async def serve(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


def graph_cdn(source: GraphSource, **settings: object) -> StarletteCDN:
    return StarletteCDN(
        domain="cdn.example.com",
        manifest=True,
        source=source,
        **settings,  # type: ignore[arg-type]
    )


async def test_entry_tags_starlette_template_global(tmp_path: Path) -> None:
    cdn = graph_cdn(GraphSource(vite_manifest(VITE_SRI)))
    async with serve(make_app(cdn, tmp_path / "static")) as client:
        response = await client.get("/page", params={"nonce": "a<b"})
    body = response.text
    assert body.startswith(
        f'<link rel="stylesheet" href="{CDN_STATIC}/assets/colors-BfcG2swV.css"'
        ' integrity="sha384-colorscss" crossorigin nonce="a&lt;b">\n'
    )
    assert body.endswith(
        f'<script type="module" src="{CDN_STATIC}/assets/main-ykIFk1bb.js"'
        ' integrity="sha384-main" crossorigin nonce="a&lt;b"></script>'
    )
    assert body.count("<link") == 5
    [link] = response.headers.get_list("link")
    assert link.split(", ")[0] == (
        f"<{CDN_STATIC}/assets/colors-BfcG2swV.css>; rel=preload; as=style; crossorigin; "
        'integrity="sha384-colorscss"'
    )
    assert len(link.split(", ")) == 6


async def test_entry_assets_starlette(tmp_path: Path) -> None:
    cdn = graph_cdn(GraphSource(vite_manifest(VITE)))
    async with serve(make_app(cdn, tmp_path / "static")) as client:
        found = (await client.get("/assets", params={"entry": "src/theme.css"})).json()
    assert found == {"scripts": [], "styles": [[f"{CDN_STATIC}/assets/theme-Aa11Bb22.css", None]]}


async def test_entry_tags_starlette_request_keeps_its_manifest(tmp_path: Path) -> None:
    source = GraphSource(vite_manifest(VITE))
    cdn = graph_cdn(source)
    app = make_app(cdn, tmp_path / "static")
    app.state.source = source
    async with serve(app) as client:
        assert (await client.get("/swap")).json() == {"same": True}
        body = (await client.get("/page")).text
    assert body == f'<script type="module" src="{CDN_STATIC}/assets/main-NEW.js"></script>'


async def test_entry_tags_starlette_unknown_strict(tmp_path: Path) -> None:
    cdn = graph_cdn(GraphSource(vite_manifest(VITE)))
    async with serve(make_app(cdn, tmp_path / "static")) as client:
        with pytest.raises(NotInManifestError, match="src/nope.js"):
            await client.get("/page", params={"entry": "src/nope.js"})


async def test_entry_tags_starlette_cdn_off_gives_local_urls(tmp_path: Path) -> None:
    cdn = StarletteCDN(manifest=True, source=GraphSource(vite_manifest(VITE)))
    async with serve(make_app(cdn, tmp_path / "static")) as client:
        await cdn.refresh()
        body = (await client.get("/page")).text
    assert '<script type="module" src="http://testserver/static/assets/main-ykIFk1bb.js">' in body


async def test_entry_tags_starlette_dev_server_once_per_request(tmp_path: Path) -> None:
    cdn = StarletteCDN(dev_server="http://127.0.0.1:5173", dev_server_react=True)
    async with serve(make_app(cdn, tmp_path / "static")) as client:
        for _ in range(2):
            response = await client.get("/two")
            assert response.text.count('src="http://127.0.0.1:5173/@vite/client"') == 1
            assert response.text.count("'http://127.0.0.1:5173/@react-refresh'") == 1
            assert 'src="http://127.0.0.1:5173/src/admin.ts"' in response.text
            assert "link" not in response.headers


async def test_entry_tags_starlette_link_header_off(tmp_path: Path) -> None:
    cdn = graph_cdn(GraphSource(vite_manifest(VITE)), preload_headers=False)
    async with serve(make_app(cdn, tmp_path / "static")) as client:
        response = await client.get("/page")
    assert "modulepreload" in response.text and "link" not in response.headers


async def test_entry_tags_starlette_link_header_cap(tmp_path: Path) -> None:
    chunks = {f"_c{i}.js": Chunk(f"assets/chunk-{i:03}-{'y' * 50}.js") for i in range(150)}
    chunks["src/big.js"] = Chunk("assets/big.js", imports=tuple(chunks), is_entry=True)
    cdn = graph_cdn(GraphSource(vite_manifest(EntryGraph(chunks=chunks))))
    async with serve(make_app(cdn, tmp_path / "static")) as client:
        response = await client.get("/page", params={"entry": "src/big.js"})
    assert response.text.count("modulepreload") == 150
    [link] = response.headers.get_list("link")
    assert 5000 < len(link.encode()) < 6000
    assert link.startswith(f"<{CDN_STATIC}/assets/chunk-000-")
