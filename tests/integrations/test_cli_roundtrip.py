"""The manifests that ``quart-cdn manifest`` and ``quart-cdn digest`` write, used by the
Quart extension: the URLs carry their versions and the hashed copies are served."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from click.testing import CliRunner
from quart import Quart

from quart_cdn import CDN, url_for
from quart_cdn._cli import main

FILES = {"css/app.css": b"h1 { color: blue; }\n", "js/app.js": b"console.log(1);\n"}


@pytest.fixture
def static(tmp_path: Path) -> Path:
    root = tmp_path / "static"
    for rel, content in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(content)
    return root


def make_app(static: Path, manifest: Path) -> Quart:
    app = Quart(__name__, static_folder=str(static))
    app.config.update(
        CDN_DOMAIN="cdn.example.com",
        CDN_HTTPS=True,
        CDN_MANIFEST=True,
        CDN_MANIFEST_URL=str(manifest),
    )
    CDN(app)
    return app


@pytest.mark.parametrize("algorithm", ["md5", "sha256"])
async def test_cli_manifest_versions_urls_by_checksum(static: Path, algorithm: str) -> None:
    out = static.parent / "manifest.txt"
    result = CliRunner().invoke(
        main, ["manifest", str(static), "-o", str(out), "--algorithm", algorithm]
    )
    assert result.exit_code == 0, result.output
    app = make_app(static, out)
    async with app.test_app(), app.app_context():
        for rel, content in FILES.items():
            digest = hashlib.new(algorithm, content).hexdigest()
            assert url_for("static", filename=rel) == (
                f"https://cdn.example.com/static/{rel}?c={digest}"
            )


async def test_cli_digest_versions_urls_by_hashed_name(static: Path) -> None:
    result = CliRunner().invoke(main, ["digest", str(static)])
    assert result.exit_code == 0, result.output
    app = make_app(static, static / "manifest.json")
    async with app.test_app() as test_app:
        async with app.app_context():
            url = url_for("static", filename="css/app.css")
        short = hashlib.md5(FILES["css/app.css"]).hexdigest()[:8]
        assert url == f"https://cdn.example.com/static/css/app.{short}.css"
        # The origin serves the hashed copy the URL names (what the CDN pulls).
        response = await test_app.test_client().get(url.removeprefix("https://cdn.example.com"))
        assert response.status_code == 200
        assert await response.get_data() == FILES["css/app.css"]
