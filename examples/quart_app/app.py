"""The quart-cdn example app.

Run it (from the repository root)::

    uvicorn --app-dir examples/quart_app app:app --host 127.0.0.1 --port 8000
    (cd examples/quart_app && hypercorn app:app --bind 127.0.0.1:8000)

and open http://127.0.0.1:8000/ (any host and port work). With no ``CDN_DOMAIN`` in the
environment the "CDN" is the app's own address, as the first request reached it, so the
page loads its CSS and JS through CDN URLs without a real CDN; the manifest is then loaded
at that first request (set ``CDN_DOMAIN`` to load it at startup and reload it in the
background).

Environment variables:
    CDN_DOMAIN: the CDN's host[:port] (default: this app itself, at the first request's host).
    CDN_MANIFEST_URL: a manifest to version URLs by (default: the checksum manifest beside
        this file; set it to an empty string to use timestamps instead).
    CDN_MANIFEST_REFRESH: seconds between manifest reloads (default: 60).
    CDN_TIMESTAMP: "0" (or "false", "no", "off") to leave unversioned URLs without ``?t=``
        (default: on); with CDN_MANIFEST_URL="" too, asset URLs carry no version at all.
    QUART_CDN_EXAMPLE_STATIC: the static folder to serve (default: ``static`` beside this
        file); the end-to-end test points it at a copy it can change.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from quart import Quart, render_template, request

from quart_cdn import CDN

HERE = Path(__file__).resolve().parent
FALSE = {"0", "false", "no", "off"}

# quart-cdn logs on the "quart_cdn" logger: show its warnings with their level and name.
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

static_folder = os.environ.get("QUART_CDN_EXAMPLE_STATIC") or str(HERE / "static")
app = Quart(__name__, static_folder=static_folder, template_folder=str(HERE / "templates"))
manifest_url = os.environ.get("CDN_MANIFEST_URL", str(HERE / "manifest.md5"))
app.config.update(
    CDN_DOMAIN=os.environ.get("CDN_DOMAIN"),
    CDN_MANIFEST=bool(manifest_url),
    CDN_MANIFEST_URL=manifest_url or None,
    CDN_MANIFEST_REFRESH=float(os.environ.get("CDN_MANIFEST_REFRESH", "60")),
    CDN_TIMESTAMP=os.environ.get("CDN_TIMESTAMP", "1").strip().lower() not in FALSE,
)
cdn = CDN(app)


@app.before_request
async def this_host_is_the_cdn() -> None:
    """Without CDN_DOMAIN, the "CDN" is this app at the address the first request used."""
    if not app.config["CDN_DOMAIN"]:
        app.config["CDN_DOMAIN"] = request.host
        cdn.init_app(app)
        if app.config["CDN_MANIFEST"]:
            await cdn.refresh()


@app.route("/")
async def index() -> str:
    if manifest_url:
        versioning = f"manifest {manifest_url}"
    elif app.config["CDN_TIMESTAMP"]:
        versioning = "file modification times"
    else:
        versioning = "nothing (no version in the URLs)"
    return await render_template(
        "index.html", cdn_domain=app.config["CDN_DOMAIN"], versioning=versioning
    )


@app.route("/about")
async def about() -> str:
    return "quart-cdn example: static files through the CDN, pages from the app."
