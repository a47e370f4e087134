"""A single-page app on Quart whose hashed assets are versioned by a live manifest.

``build.py`` publishes hashed files and ``manifest.json`` into the publish folder, which is
this app's static folder (and the CDN's origin). The app loads the manifest at startup and
reloads it every ``CDN_MANIFEST_REFRESH`` seconds, so a new front-end release goes live
without restarting or redeploying the app. Every path that is neither ``/api/...`` nor
``/static/...`` gets the ``index.html`` shell, whose ``entry_tags('js/app.js')`` gives the
current hashed CSS and JS (and a ``Link`` preload header for them).

Run it from the repository root::

    python examples/spa/build.py
    uvicorn examples.spa.app:app

then open http://127.0.0.1:8000/some/deep/link, edit ``frontend/css/app.css``, run
``build.py`` again and reload the page within ``CDN_MANIFEST_REFRESH`` seconds.

Environment:
    SPA_PUBLIC_DIR: the publish folder (default: ``examples/spa/public``).
    CDN_DOMAIN: the CDN's host (default: ``127.0.0.1:8000``, the app itself).
    CDN_MANIFEST_URL: where the manifest is read (default: ``<publish folder>/manifest.json``);
        an ``https://`` URL on the CDN, or ``s3://bucket/static/manifest.json`` with
        ``pip install 'quart-cdn[s3]'``, when the app and the publish folder live apart.
    CDN_MANIFEST_REFRESH: seconds between reloads (default: 300; ``0``: load once).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from quart import Quart, render_template

from quart_cdn import CDN

HERE = Path(__file__).resolve().parent


def create_app() -> Quart:
    public = Path(os.environ.get("SPA_PUBLIC_DIR", HERE / "public")).resolve()
    app = Quart(
        __name__,
        static_folder=str(public),
        static_url_path="/static",
        template_folder=str(HERE / "frontend"),
    )
    app.config.update(
        CDN_DOMAIN=os.environ.get("CDN_DOMAIN", "127.0.0.1:8000"),
        CDN_MANIFEST=True,
        CDN_MANIFEST_URL=os.environ.get("CDN_MANIFEST_URL", str(public / "manifest.json")),
        CDN_MANIFEST_REFRESH=float(os.environ.get("CDN_MANIFEST_REFRESH", "300")),
    )
    CDN(app)

    @app.get("/api/hello")
    async def hello() -> dict[str, Any]:
        return {"message": "Hello from the API"}

    @app.route("/api/<path:rest>")
    async def api_not_found(rest: str) -> tuple[dict[str, Any], int]:
        return {"error": f"no API endpoint /api/{rest}"}, 404  # never the HTML shell

    @app.get("/", defaults={"path": ""})
    @app.get("/<path:path>")
    async def spa(path: str) -> str:
        # Client-side routes: the front end reads location.pathname.
        return await render_template("index.html")

    return app


app = create_app()
