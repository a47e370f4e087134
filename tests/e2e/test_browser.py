"""End to end, as a user's browser sees it: the example app, nginx as an origin-pull CDN that
caches static files for a day whatever the app says, and headless Chromium.

- every stylesheet and script of the page comes from the CDN's host, the stylesheet is
  applied and the script runs;
- a new build (changed CSS, new manifest) is seen by the next visitor at once, through the
  CDN, although the CDN still holds the old file;
- without versioning the same deploy leaves visitors with the stale CSS: the cache is real.

Run it alone with ``pytest -m e2e``. It needs ``nginx`` and ``chromium`` (Debian:
``apt-get install nginx-light chromium``; or set ``QUART_CDN_NGINX`` / ``QUART_CDN_CHROMIUM``)
and is skipped without them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from _harness import (
    CSS,
    NEW_COLOUR,
    OLD_COLOUR,
    Chromium,
    Site,
    Visit,
    find_chromium,
    find_nginx,
    http_client,
)

NGINX = find_nginx()
CHROMIUM = find_chromium()

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="end-to-end test: Linux only"),
    pytest.mark.skipif(
        NGINX is None,
        reason="nginx not found (apt-get install nginx-light, or set QUART_CDN_NGINX)",
    ),
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="chromium not found (apt-get install chromium, or set QUART_CDN_CHROMIUM)",
    ),
]

JS = "js/app.js"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    assert CHROMIUM is not None
    with Chromium(CHROMIUM, tmp_path_factory.mktemp("chromium")) as chromium:
        yield chromium


@pytest.fixture
def versioned_site(tmp_path: Path) -> Iterator[Site]:
    """The example app versioning its URLs by a checksum manifest, reloaded every 0.5 s."""
    assert NGINX is not None
    with Site(NGINX, tmp_path, versioned=True, refresh=1.0) as site:
        yield site


@pytest.fixture
def unversioned_site(tmp_path: Path) -> Iterator[Site]:
    """The example app with no manifest and no timestamps: asset URLs carry no version."""
    assert NGINX is not None
    with Site(NGINX, tmp_path, versioned=False) as site:
        yield site


def assert_from_cdn(visit: Visit, site: Site) -> None:
    """The page came from the app; every stylesheet and script from the CDN, and both worked."""
    report = visit.report
    assert report["location"] == site.app.url + "/"
    tags = sorted(asset["tag"] for asset in report["assets"])
    assert tags == ["link", "script"], report["assets"]
    for url in visit.asset_urls:
        assert urlsplit(url).netloc == site.cdn.host, url
        # The browser's response came through nginx, whichever way its cache went.
        assert visit.cache_status(url) in ("MISS", "HIT"), visit.responses.get(url)
    assert report["stylesheets"], "no stylesheet applied"
    for url in report["stylesheets"]:
        assert urlsplit(url).netloc == site.cdn.host, url
    # What the browser fetched for stylesheets and scripts (Resource Timing; the favicon it
    # may ask the app for is neither): the assets, and all of it from the CDN.
    fetched = {
        entry["url"]
        for entry in report["resources"]
        if entry["initiator"] in ("link", "script", "css")
    }
    assert fetched == set(visit.asset_urls), report["resources"]
    assert visit.script_status == "app.js ran"


def test_assets_come_from_the_cdn(browser: Chromium, versioned_site: Site) -> None:
    site = versioned_site
    first = browser.visit(site.app.url + "/")
    assert_from_cdn(first, site)
    assert first.h1_colour == OLD_COLOUR  # the stylesheet was applied
    css = first.asset(CSS)
    assert urlsplit(css).query == f"c={site.checksum(CSS)}"
    assert urlsplit(first.asset(JS)).query == f"c={site.checksum(JS)}"
    assert [first.cache_status(url) for url in first.asset_urls] == ["MISS", "MISS"]

    # The next visitor gets both from the CDN's cache.
    second = browser.visit(site.app.url + "/")
    assert_from_cdn(second, site)
    assert second.asset_urls == first.asset_urls
    assert [second.cache_status(url) for url in second.asset_urls] == ["HIT", "HIT"]
    assert second.h1_colour == OLD_COLOUR


def test_a_new_build_is_seen_at_once_through_the_cache(
    browser: Chromium, versioned_site: Site
) -> None:
    site = versioned_site
    before = browser.visit(site.app.url + "/")
    assert_from_cdn(before, site)
    old_css, js = before.asset(CSS), before.asset(JS)
    assert before.h1_colour == OLD_COLOUR

    site.deploy_new_css()  # new CSS, new manifest; returns once the app has reloaded it

    after = browser.visit(site.app.url + "/")
    assert_from_cdn(after, site)
    new_css = after.asset(CSS)
    assert new_css != old_css
    assert urlsplit(new_css).path == urlsplit(old_css).path  # same file, new version
    assert urlsplit(new_css).query == f"c={site.checksum(CSS)}"
    assert after.h1_colour == NEW_COLOUR
    assert after.cache_status(new_css) == "MISS"  # pulled from the app through the CDN
    assert after.asset(JS) == js  # the unchanged script keeps its URL ...
    assert after.cache_status(js) == "HIT"  # ... and its cached copy

    # The CDN still holds the old stylesheet under its old URL.
    with http_client() as client:
        cached = client.get(old_css)
        assert cached.status_code == 200
        assert cached.headers["x-cache-status"] == "HIT"
        assert OLD_COLOUR in cached.text and NEW_COLOUR not in cached.text
        origin = client.get(site.app.url + urlsplit(old_css).path)
        assert NEW_COLOUR in origin.text


def test_without_versioning_the_cache_serves_stale_css(
    browser: Chromium, unversioned_site: Site
) -> None:
    site = unversioned_site
    before = browser.visit(site.app.url + "/")
    assert_from_cdn(before, site)
    css = before.asset(CSS)
    assert urlsplit(css).query == ""
    assert before.h1_colour == OLD_COLOUR
    assert before.cache_status(css) == "MISS"

    site.deploy_new_css()
    with http_client() as client:
        assert NEW_COLOUR in client.get(site.app.url + urlsplit(css).path).text  # the origin

    after = browser.visit(site.app.url + "/")
    assert_from_cdn(after, site)
    assert after.asset(CSS) == css  # nothing tells the CDN that the file changed ...
    assert after.cache_status(css) == "HIT"
    assert after.h1_colour == OLD_COLOUR  # ... so visitors keep the stale stylesheet
