"""FastAPI through the Starlette adapter: same ``Jinja2Templates``, same ``StarletteCDN``.

FastAPI is a test-only dependency; the adapter itself knows nothing about it.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import jinja2
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from quart_cdn.starlette import StarletteCDN

DOMAIN = "cdn.example.com"
MTIME = 1_700_000_000
PAGE = (
    "{{ url_for('static', path='css/app.css') }}\n"
    "{{ url_for('sub:static', path='sub.js') }}\n"
    "{{ url_for('read_item', item_id=3) }}"
)


def write_file(path: Path, body: bytes = b"/* asset */\n", *, mtime: int = MTIME) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    os.utime(path, (mtime, mtime))
    return path


def make_app(cdn: StarletteCDN, tmp_path: Path) -> FastAPI:
    write_file(tmp_path / "static" / "css" / "app.css")
    write_file(tmp_path / "sub" / "sub.js", mtime=MTIME - 1)
    templates = Jinja2Templates(env=jinja2.Environment(loader=jinja2.DictLoader({"p": PAGE})))
    cdn.install(templates)

    app = FastAPI(lifespan=cdn.lifespan)
    items = APIRouter(prefix="/items")

    @items.get("/{item_id}")
    async def read_item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @app.get("/", response_class=HTMLResponse)
    async def index(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(request, "p")

    sub = FastAPI()
    sub.mount("/static", StaticFiles(directory=tmp_path / "sub"), name="static")
    app.include_router(items)
    app.mount("/static", StaticFiles(directory=tmp_path / "static"), name="static")
    app.mount("/sub", sub, name="sub")
    return app


@contextlib.asynccontextmanager
async def serve(cdn: StarletteCDN, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan (``lifespan=cdn.lifespan``) and yield a client for it."""
    app = make_app(cdn, tmp_path)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def test_fastapi_template_gives_cdn_urls(tmp_path: Path) -> None:
    cdn = StarletteCDN(domain=DOMAIN, https=True)
    async with serve(cdn, tmp_path) as client:
        page = (await client.get("/")).text
        asset = await client.get("/static/css/app.css")
        item = await client.get("/items/3")

    assert page.splitlines() == [
        f"https://{DOMAIN}/static/css/app.css?t={MTIME}",
        f"https://{DOMAIN}/sub/static/sub.js?t={MTIME - 1}",
        "http://test/items/3",
    ]
    assert asset.status_code == 200
    assert item.json() == {"id": 3}


async def test_fastapi_manifest_loaded_by_lifespan(tmp_path: Path) -> None:
    manifest = write_file(
        tmp_path / "manifest.json",
        json.dumps({"css/app.css": "css/app.0badf00d.css", "sub.js": "sub.12345678.js"}).encode(),
    )
    cdn = StarletteCDN(domain=DOMAIN, manifest=True, manifest_url=str(manifest))
    async with serve(cdn, tmp_path) as client:
        page = (await client.get("/")).text
        assert cdn.manifest is not None

    assert page.splitlines()[:2] == [
        f"http://{DOMAIN}/static/css/app.0badf00d.css",
        f"http://{DOMAIN}/sub/static/sub.12345678.js",
    ]
