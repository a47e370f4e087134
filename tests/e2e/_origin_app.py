"""The app that ``test_origin.py`` runs under uvicorn, one process per instance of a deploy.

Configured by environment variables: ``ORIGIN_STATIC`` (its build's static folder),
``ORIGIN_MANIFEST`` (the build's manifest, or empty for timestamps), ``ORIGIN_INSTANCE``
(a name sent back in ``X-Instance``, so the test sees which instance answered),
``CDN_DOMAIN``, and ``CDN_ORIGIN_CACHE`` / ``CDN_CORS`` / ``CDN_PRECOMPRESSED`` (``"off"``
turns one off).
"""

from __future__ import annotations

import os

from quart import Quart, Response, render_template_string

from quart_cdn import CDN

PAGE = """<!doctype html>
<html><head><title>origin</title>
<link rel="stylesheet" href="{{ url_for('static', filename='css/app.css') }}">
</head><body><h1>quart-cdn</h1></body></html>
"""

# A page on the app's origin that loads a module script and a font from the CDN's.
CORS_PAGE = """<!doctype html>
<html><head><title>cors</title>
<script type="module" src="{{ url_for('static', filename='js/module.js') }}"></script>
</head><body>
<p id="module">module did not run</p>
<p id="font">font not tried</p>
<script>
  new FontFace("Test", "url({{ url_for('static', filename='fonts/test.ttf') }})").load().then(
    () => { document.getElementById("font").textContent = "font loaded"; },
    () => { document.getElementById("font").textContent = "font failed"; },
  );
</script>
</body></html>
"""

app = Quart(__name__, static_folder=os.environ["ORIGIN_STATIC"])
manifest = os.environ.get("ORIGIN_MANIFEST", "")
cors = os.environ.get("CDN_CORS", "*")
app.config.update(
    CDN_DOMAIN=os.environ["CDN_DOMAIN"],
    CDN_MANIFEST=bool(manifest),
    CDN_MANIFEST_URL=manifest or None,
    CDN_ORIGIN_CACHE=os.environ.get("CDN_ORIGIN_CACHE") != "off",
    CDN_CORS=None if cors == "off" else cors,
    CDN_PRECOMPRESSED=os.environ.get("CDN_PRECOMPRESSED") != "off",
)
CDN(app)
INSTANCE = os.environ.get("ORIGIN_INSTANCE", "")


@app.after_request
async def name_the_instance(response: Response) -> Response:
    response.headers["X-Instance"] = INSTANCE
    return response


@app.route("/")
async def index() -> str:
    return await render_template_string(PAGE)


@app.route("/cors")
async def cors_page() -> str:
    return await render_template_string(CORS_PAGE)


@app.route("/about")
async def about() -> str:
    return "origin test app"
