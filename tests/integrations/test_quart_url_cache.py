"""The URL cache behind the Quart ``url_for`` and its template global.

A warm URL comes from a per-request view of the manifest's cache keyed by endpoint and
filename alone; these tests check that every other thing a URL depends on (the request's
scheme and root path, ``_scheme``, extra values, the manifest in force, the app) still
gives its own URL, warm or cold, through either function.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
from quart import Quart, url_for as quart_url_for

from quart_cdn import CDN, url_for

DOMAIN = "cdn.example.com"
MTIME = 1_700_000_000


@pytest.fixture
def app(tmp_path: Path) -> Quart:
    static = tmp_path / "static"
    (static / "js").mkdir(parents=True)
    for name in ("a.js", "b.js"):
        (static / "js" / name).write_text("//\n")
        os.utime(static / "js" / name, (MTIME, MTIME))
    app = Quart(__name__, static_folder=str(static))
    app.config["TESTING"] = True

    @app.route("/item/<int:id>")
    async def item(id: int) -> str:
        return str(id)

    return app


def template_url_for(app: Quart) -> Callable[..., str]:
    return cast("Callable[..., str]", app.jinja_env.globals["url_for"])


def both(app: Quart, endpoint: str, **values: Any) -> list[str]:
    """The URL through url_for and the template global, each asked twice (cold, warm)."""
    glob = template_url_for(app)
    return [f(endpoint, **values) for f in (url_for, glob, url_for, glob)]


def check(app: Quart, expected: str, endpoint: str, **values: Any) -> None:
    assert both(app, endpoint, **values) == [expected] * 4


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({"scheme": "http"}, f"http://{DOMAIN}/static/js/a.js?t={MTIME}"),
        ({"scheme": "https"}, f"https://{DOMAIN}/static/js/a.js?t={MTIME}"),
        (
            {"scheme": "https", "root_path": "/sub"},
            f"https://{DOMAIN}/sub/static/js/a.js?t={MTIME}",
        ),
        (
            {"scheme": "http", "root_path": "/other"},
            f"http://{DOMAIN}/other/static/js/a.js?t={MTIME}",
        ),
    ],
)
async def test_url_cache_keeps_scheme_and_root_path_apart(
    app: Quart, context: dict[str, str], expected: str
) -> None:
    """Requests that differ in scheme or root path, one after the other, each get theirs."""
    app.config["CDN_DOMAIN"] = DOMAIN
    CDN(app)
    for ctx in ({"scheme": "https", "root_path": "/sub"}, {"scheme": "http"}, context):
        async with app.test_request_context("/", **ctx):  # type: ignore[arg-type]
            urls = both(app, "static", filename="js/a.js")
    assert urls == [expected] * 4


async def test_url_cache_keeps_call_values_apart(app: Quart) -> None:
    app.config["CDN_DOMAIN"] = DOMAIN
    CDN(app)
    t = f"t={MTIME}"
    async with app.test_request_context("/", scheme="https"):
        check(app, f"https://{DOMAIN}/static/js/a.js?{t}", "static", filename="js/a.js")
        check(
            app, f"http://{DOMAIN}/static/js/a.js?{t}", "static", filename="js/a.js", _scheme="http"
        )
        check(app, f"//{DOMAIN}/static/js/a.js?{t}", "static", filename="js/a.js", _scheme="")
        check(app, f"https://{DOMAIN}/static/js/a.js?v=2&{t}", "static", filename="js/a.js", v="2")
        check(app, f"https://{DOMAIN}/static/js/b.js?{t}", "static", filename="js/b.js")
        # After all that, the plain call still gives the request's own URL.
        check(app, f"https://{DOMAIN}/static/js/a.js?{t}", "static", filename="js/a.js")


async def test_url_cache_non_cdn_endpoints_are_quarts(app: Quart) -> None:
    app.config["CDN_DOMAIN"] = DOMAIN
    CDN(app)
    async with app.test_request_context("/"):
        check(app, quart_url_for("item", id=7), "item", id=7)
        # A one-value call named like the static one, to an endpoint that is not a CDN one.
        check(app, quart_url_for("item", id=7, filename="x"), "item", id=7, filename="x")


async def test_url_cache_unhashable_filename_still_builds(app: Quart) -> None:
    app.config["CDN_DOMAIN"] = DOMAIN
    app.config["CDN_TIMESTAMP"] = False
    CDN(app)
    async with app.test_request_context("/"):
        urls = both(app, "static", filename=["js", "a.js"])
    assert len(set(urls)) == 1 and urls[0].startswith(f"http://{DOMAIN}/static/")


@pytest.mark.parametrize("domain", [None, ""])
async def test_url_cache_template_global_without_cdn_is_quarts(
    app: Quart, domain: str | None
) -> None:
    app.config["CDN_DOMAIN"] = domain
    CDN(app)
    async with app.test_request_context("/"):
        check(app, quart_url_for("static", filename="js/a.js"), "static", filename="js/a.js")
        check(app, quart_url_for("item", id=1), "item", id=1)


async def test_url_cache_new_manifest_new_urls_in_the_next_request(
    app: Quart, tmp_path: Path
) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text('{"js/a.js": "js/a.11111111.js"}')
    app.config.update(CDN_DOMAIN=DOMAIN, CDN_MANIFEST=True, CDN_MANIFEST_URL=str(manifest))
    cdn = CDN(app)
    async with app.app_context():
        await cdn.refresh()
    async with app.test_request_context("/"):
        check(app, f"http://{DOMAIN}/static/js/a.11111111.js", "static", filename="js/a.js")
        manifest.write_text('{"js/a.js": "js/a.22222222.js"}')
        os.utime(manifest, (MTIME, MTIME))
        await cdn.refresh()
        # The request keeps the manifest it started with, so its page never mixes two.
        check(app, f"http://{DOMAIN}/static/js/a.11111111.js", "static", filename="js/a.js")
    async with app.test_request_context("/"):
        check(app, f"http://{DOMAIN}/static/js/a.22222222.js", "static", filename="js/a.js")


async def test_url_cache_is_per_app(tmp_path: Path) -> None:
    """One CDN on two apps: each app's template global answers with that app's settings."""
    apps = []
    for name, domain in (("first", "one.example.com"), ("second", "two.example.com")):
        static = tmp_path / name / "static"
        static.mkdir(parents=True)
        (static / "x.js").write_text("//\n")
        app = Quart(name, static_folder=str(static))
        app.config.update(CDN_DOMAIN=domain, CDN_TIMESTAMP=False)
        apps.append(app)
    cdn = CDN()
    for app in apps:
        cdn.init_app(app)
    for _ in range(2):
        for app, domain in zip(apps, ("one.example.com", "two.example.com"), strict=True):
            async with app.test_request_context("/"):
                check(app, f"http://{domain}/static/x.js", "static", filename="x.js")
