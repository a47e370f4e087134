"""The Quart extension's lifecycle: init_app while serving, no manifest load while the CDN
is off."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from quart import Quart
from quart.testing.app import LifespanError

from quart_cdn import CDN, ManifestLoadError, UsageError, url_for

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


async def test_cdn_debug_follows_the_debug_flag_set_after_init_app(tmp_path: Path) -> None:
    """``quart run --debug`` sets app.debug after init_app: a CDN_DEBUG left unset follows it
    when the app starts serving, so a development app serves its own static files."""
    app = make_app(tmp_path)
    CDN(app)
    app.debug = True
    async with app.test_app(), app.test_request_context("/"):
        assert url_for("static", filename="x.js") == "/static/x.js"
        assert app.config["CDN_DEBUG"] is True


async def test_cdn_debug_set_explicitly_wins_over_the_debug_flag(tmp_path: Path) -> None:
    app = make_app(tmp_path, CDN_DEBUG=False)
    CDN(app)
    app.debug = True
    async with app.test_app(), app.test_request_context("/"):
        assert url_for("static", filename="x.js") == f"https://{DOMAIN}/static/x.js"


async def test_relative_manifest_path_is_read_from_the_app_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative CDN_MANIFEST_URL is resolved against app.root_path, not the current
    directory; the error for a missing one shows the path it tried."""
    root = tmp_path / "project"
    (root / "static").mkdir(parents=True)
    (root / "manifest.json").write_text(json.dumps({"x.js": "x.1234abcd.js"}))
    monkeypatch.chdir(tmp_path)  # somewhere else
    app = Quart(__name__, root_path=str(root))
    app.config.update(
        CDN_DOMAIN=DOMAIN, CDN_HTTPS=True, CDN_MANIFEST=True, CDN_MANIFEST_URL="manifest.json"
    )
    CDN(app)
    async with app.test_app(), app.app_context():
        assert url_for("static", filename="x.js") == f"https://{DOMAIN}/static/x.1234abcd.js"

    app.config["CDN_MANIFEST_URL"] = "missing.json"
    CDN(app)
    tried = re.escape(repr(str(root / "missing.json")))
    with pytest.raises((ManifestLoadError, LifespanError), match=f"{tried} does not exist"):
        async with app.test_app():
            pass
