"""The Quart extension's lifecycle: init_app while serving, no manifest load while the CDN
is off."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from quart import Quart

from quart_cdn import CDN, UsageError, url_for

DOMAIN = "cdn.example.com"


def make_app(tmp_path: Path, **config: object) -> Quart:
    (tmp_path / "static").mkdir(exist_ok=True)
    app = Quart(__name__, static_folder=str(tmp_path / "static"))
    app.config.update(CDN_DOMAIN=DOMAIN, CDN_HTTPS=True, CDN_TIMESTAMP=False, **config)
    return app


async def test_init_app_while_serving_is_refused(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"x.js": "x.1234abcd.js"}))
    app = make_app(tmp_path, CDN_MANIFEST=True, CDN_MANIFEST_URL=str(manifest))
    cdn = CDN(app)
    async with app.test_app():
        with pytest.raises(UsageError, match="while the app is serving"):
            cdn.init_app(app)
        async with app.app_context():
            assert url_for("static", filename="x.js") == f"https://{DOMAIN}/static/x.1234abcd.js"


@pytest.mark.parametrize("config", [{"CDN_DEBUG": True}, {"CDN_DOMAIN": None}])
async def test_cdn_off_does_not_load_the_manifest_at_startup(
    tmp_path: Path, config: dict[str, object]
) -> None:
    """A development app (CDN off) starts although its strict manifest cannot be loaded."""
    app = make_app(tmp_path, CDN_MANIFEST=True, CDN_MANIFEST_URL=str(tmp_path / "none.json"))
    app.config.update(config)
    cdn = CDN(app)
    async with app.test_app(), app.test_request_context("/"):
        assert cdn.manifest is None
        assert url_for("static", filename="x.js") == "/static/x.js"
