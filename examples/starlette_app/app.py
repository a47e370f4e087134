"""A Starlette app whose CSS and JS come from a CDN through quart-cdn's StarletteCDN.

Run it from the repository root (``pip install 'quart-cdn[starlette]' uvicorn`` first)::

    uvicorn examples.starlette_app.app:app

and open http://127.0.0.1:8000/ (any host and port work). Without ``CDN_DOMAIN`` the app's
own address, as the first request reached it, stands in for the CDN, so the page loads
its assets through CDN URLs such as
``http://127.0.0.1:8000/static/css/app.css?t=1700000000``. Set ``CDN_DOMAIN`` (for
example ``d111111abcdef8.cloudfront.net``, a distribution whose origin is this app) to
serve them from a real CDN.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

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


async def index(request: Request) -> Response:
    use_this_host_as_the_cdn(request)
    return templates.TemplateResponse(request, "index.html", {"framework": "Starlette"})


app = Starlette(
    routes=[
        Route("/", index, name="index"),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ],
    lifespan=cdn.lifespan,
)
