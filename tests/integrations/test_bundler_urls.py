"""``url_for`` over every committed real build (``tests/fixtures/bundlers``), as
``expected.json`` says: each name gives the URL of the right file, and fetching that URL
from the app gives that file's bytes, whatever public path the bundler wrote (none,
``/static/``, the CDN's own URL, Encore's key prefix). Files the bundler copied without
listing them take the timestamp rule; names neither listed nor present are refused in
strict mode; a manifest of no known format (esbuild's metafile) fails at startup, naming it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from quart import Quart
from quart.testing.app import LifespanError

from quart_cdn import CDN, ManifestError, NotInManifestError, url_for

BUNDLERS = Path(__file__).resolve().parents[1] / "fixtures" / "bundlers"
EXPECTED: dict[str, Any] = json.loads((BUNDLERS / "expected.json").read_text())["builds"]
DOMAIN = "cdn.example.com"
BUILDS = sorted(name for name, build in EXPECTED.items() if build["url_for"])


def make_app(name: str) -> Quart:
    build = EXPECTED[name]
    app = Quart(__name__, static_folder=str(BUNDLERS / name), static_url_path="/static")
    app.config.update(
        CDN_DOMAIN=DOMAIN,
        CDN_MANIFEST=True,
        CDN_MANIFEST_URL=str(BUNDLERS / name / build["manifest"]),
    )
    CDN(app)
    return app


@pytest.mark.parametrize("name", BUILDS)
async def test_bundler_url_for_gives_the_right_file(name: str) -> None:
    app = make_app(name)
    build = EXPECTED[name]
    async with app.test_app() as test_app, app.test_request_context("/"):
        client = test_app.test_client()
        for asked, served in build["url_for"]:
            url = url_for("static", filename=asked)
            assert url == f"http://{DOMAIN}/static/{served}", (asked, url)
            response = await client.get(urlsplit(url).path)
            assert response.status_code == 200, url
            assert await response.get_data() == (BUNDLERS / name / served).read_bytes()
        for unlisted in build["unlisted"]:
            mtime = int(os.stat(BUNDLERS / name / unlisted).st_mtime)
            assert url_for("static", filename=unlisted) == (
                f"http://{DOMAIN}/static/{unlisted}?t={mtime}"
            )
        for refused in build["strict_refused"]:
            with pytest.raises(NotInManifestError, match="not found in manifest"):
                url_for("static", filename=refused)


def test_bundler_esbuild_metafile_is_refused_by_name() -> None:
    from quart_cdn import parse_manifest

    data = (BUNDLERS / "esbuild" / EXPECTED["esbuild"]["manifest"]).read_bytes()
    with pytest.raises(ManifestError, match="esbuild"):
        parse_manifest(data, source="meta.json", cdn=DOMAIN)


async def test_bundler_esbuild_metafile_fails_startup() -> None:
    app = make_app("esbuild")
    with pytest.raises((ManifestError, LifespanError), match="esbuild"):
        async with app.test_app():
            pass
