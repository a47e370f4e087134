"""The page of the entries end-to-end test: one Vite entry through ``entry_tags``.

Run by ``test_entries_browser.py`` under uvicorn (``--app-dir tests/e2e _entries_app:app``),
configured by the environment: ``ENTRIES_STATIC`` (a copy of a Vite build, served at
``/static/``), ``CDN_DOMAIN`` (the nginx "CDN") and ``CDN_MANIFEST_URL`` (its manifest).
"""

from __future__ import annotations

import os

from quart import Quart, render_template_string

from quart_cdn import CDN

app = Quart(__name__, static_folder=os.environ["ENTRIES_STATIC"], static_url_path="/static")
app.config.update(
    CDN_DOMAIN=os.environ["CDN_DOMAIN"],
    CDN_MANIFEST=True,
    CDN_MANIFEST_URL=os.environ["CDN_MANIFEST_URL"],
)
CDN(app)

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>entries</title>
{{ entry_tags('src/main.js', nonce='n0nce') }}
</head><body><p>quart-cdn entries</p></body></html>
"""


@app.route("/")
async def index() -> str:
    return await render_template_string(PAGE)


@app.route("/about")
async def about() -> str:
    return "ok"
