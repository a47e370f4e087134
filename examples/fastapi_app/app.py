"""A FastAPI app whose CSS and JS come from a CDN through quart-cdn's StarletteCDN.

Run it from the repository root (``pip install 'quart-cdn[starlette]' fastapi uvicorn``)::

    uvicorn examples.fastapi_app.app:app

and open http://127.0.0.1:8000/ (any host and port work). Without ``CDN_DOMAIN`` the app's
own address, as the first request reached it, stands in for the CDN, so the page loads
its assets through CDN URLs such as
``http://127.0.0.1:8000/static/css/app.css?t=1700000000``. Set ``CDN_DOMAIN`` to serve
them from a real CDN whose origin is this app.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from quart_cdn.starlette import StarletteCDN

HERE = Path(__file__).resolve().parent

templates = Jinja2Templates(directory=HERE / "templates")
cdn = StarletteCDN(domain=os.environ.get("CDN_DOMAIN"))
cdn.install(templates)
# quart-cdn logs on the "quart_cdn" logger: show its warnings with their level and name.
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def use_this_host_as_the_cdn(request: Request) -> None:
    """Without CDN_DOMAIN, the "CDN" is this app at the address the first request used."""
    global cdn
    if not cdn.config.domain:
        cdn = StarletteCDN(domain=request.url.netloc)
        cdn.install(templates)


app = FastAPI(lifespan=cdn.lifespan)
app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")


@app.get("/", response_class=HTMLResponse)
async def index(request: Request) -> HTMLResponse:
    use_this_host_as_the_cdn(request)
    return templates.TemplateResponse(request, "index.html", {"framework": "FastAPI"})


@app.get("/api/hello")
async def hello() -> dict[str, str]:
    return {"message": "hello from the API; its URL is not a CDN URL"}
