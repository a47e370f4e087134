"""The app that ``bench_origin.py`` runs under uvicorn: one static file, served by the
framework alone or by the origin rules.

Configured by environment variables: ``BENCH_SITE`` (made by ``bench_origin.make_site``),
``BENCH_FRAMEWORK`` (``quart`` or ``starlette``) and ``BENCH_MODE`` (``plain``: the
framework's own static route, no extension; ``origin``: the extension with a checksum
manifest and every origin rule on).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

_site = Path(os.environ["BENCH_SITE"])
_static = _site / "static"
_manifest = str(_site / "manifest.md5")
_origin = os.environ.get("BENCH_MODE") == "origin"
app: Any

if os.environ.get("BENCH_FRAMEWORK") == "starlette":
    from starlette.applications import Starlette
    from starlette.routing import Mount
    from starlette.staticfiles import StaticFiles

    from quart_cdn.starlette import StarletteCDN

    routes = [Mount("/static", StaticFiles(directory=_static), name="static")]
    if _origin:
        cdn = StarletteCDN(domain="cdn.example.com", manifest=True, manifest_url=_manifest)
        app = Starlette(routes=routes, lifespan=cdn.lifespan)
    else:
        app = Starlette(routes=routes)
else:
    from quart import Quart

    from quart_cdn import CDN

    app = Quart(__name__, static_folder=str(_static))
    if _origin:
        app.config.update(
            CDN_DOMAIN="cdn.example.com", CDN_MANIFEST=True, CDN_MANIFEST_URL=_manifest
        )
        CDN(app)
