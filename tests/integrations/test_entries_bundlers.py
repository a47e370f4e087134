"""Entries of every committed real build (``tests/fixtures/bundlers``), as ``expected.json``
says they are: ``entry_assets`` and ``entry_tags`` in Quart and Starlette, each URL fetched
from the app and compared with the file's bytes, the lazy chunk never in the output.

These read the real manifests, so they need the parser to fill the entry graph (Vite
``css``/``imports``/``integrity``, webpack-assets-manifest ``entrypoints``, Encore's
``entrypoints.json``): issue 11's parser work.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import jinja2
import pytest
from asgi_lifespan import LifespanManager
from quart import Quart
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from quart_cdn import CDN, entry_assets, entry_tags
from quart_cdn.starlette import StarletteCDN

BUNDLERS = Path(__file__).resolve().parents[1] / "fixtures" / "bundlers"
EXPECTED: dict[str, Any] = json.loads((BUNDLERS / "expected.json").read_text())["builds"]
STATIC = "http://cdn.example.com/static"
#: The builds with entries that quart-cdn reads (esbuild's metafile is refused, by design).
BUILDS = sorted(name for name, build in EXPECTED.items() if build["entries"] and name != "esbuild")


def manifest_of(name: str) -> Path:
    build = EXPECTED[name]
    relative: str = build.get("entrypoints", build["manifest"])
    return BUNDLERS / name / relative


def expected_assets(name: str, entry: str) -> dict[str, list[list[str | None]]]:
    found = EXPECTED[name]["entries"][entry]
    return {
        kind: [[f"{STATIC}/{f['file']}", f["integrity"]] for f in found[kind]]
        for kind in ("scripts", "styles", "preloads")
    }


def check_tags(name: str, entry: str, tags: str) -> None:
    """Every expected file is in the tags, with its integrity, and no lazy file is."""
    by_url = {re.findall(r'(?:src|href)="([^"]+)"', tag)[0]: tag for tag in tags.splitlines()}
    for kind, files in expected_assets(name, entry).items():
        for url, integrity in files:
            assert url in by_url, (kind, url)
            if integrity is not None:
                assert f' integrity="{integrity}" crossorigin' in by_url[url]
            else:
                assert "integrity" not in by_url[url]
    for lazy in EXPECTED[name]["lazy"]:
        assert lazy not in tags


@pytest.mark.parametrize("name", BUILDS)
async def test_entries_bundler_quart(name: str) -> None:
    app = Quart(__name__, static_folder=str(BUNDLERS / name), static_url_path="/static")
    app.config.update(
        CDN_DOMAIN="cdn.example.com",
        CDN_MANIFEST=True,
        CDN_MANIFEST_URL=str(manifest_of(name)),
    )
    CDN(app)
    async with app.test_app():
        for entry in EXPECTED[name]["entries"]:
            async with app.test_request_context("/"):
                assets = entry_assets(entry)
                found = {
                    kind: [[a.url, a.integrity] for a in getattr(assets, kind)]
                    for kind in ("scripts", "styles", "preloads")
                }
                assert found == expected_assets(name, entry)
                assert assets.module == name.startswith("vite")
                check_tags(name, entry, entry_tags(entry, nonce="n"))
            # Each URL is the file's: fetched from the app (the CDN's origin).
            client = app.test_client()
            for files in expected_assets(name, entry).values():
                for url, _ in files:
                    assert url is not None
                    path = url.removeprefix("http://cdn.example.com")
                    response = await client.get(path)
                    assert response.status_code == 200, path
                    file = BUNDLERS / name / path.removeprefix("/static/")
                    assert await response.get_data() == file.read_bytes()


@pytest.mark.parametrize("name", BUILDS)
async def test_entries_bundler_starlette(name: str) -> None:
    cdn = StarletteCDN(domain="cdn.example.com", manifest=True, manifest_url=str(manifest_of(name)))
    templates = Jinja2Templates(
        env=jinja2.Environment(loader=jinja2.DictLoader({"p": "{{ entry_tags(entry) }}"}))
    )
    cdn.install(templates)

    async def page(request: Request) -> Response:
        return templates.TemplateResponse(request, "p", {"entry": request.query_params["e"]})

    async def assets(request: Request) -> Response:
        found = cdn.entry_assets(request, request.query_params["e"])
        return JSONResponse({k: getattr(found, k) for k in ("scripts", "styles", "preloads")})

    app = Starlette(
        routes=[
            Route("/page", page),
            Route("/assets", assets),
            Mount("/static", StaticFiles(directory=BUNDLERS / name), name="static"),
        ],
        lifespan=cdn.lifespan,
    )
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            for entry in EXPECTED[name]["entries"]:
                found = (await client.get("/assets", params={"e": entry})).json()
                assert found == expected_assets(name, entry)
                response = await client.get("/page", params={"e": entry})
                check_tags(name, entry, response.text)
                assert response.headers["link"].startswith("<http://cdn.example.com/static/")
