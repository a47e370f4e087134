"""End to end, the app as the CDN's origin: nginx as an origin-pull CDN that honours the app's
``Cache-Control``, real uvicorn instances, headless Chromium.

- **Rolling deploy.** Two instances behind the CDN (round robin), A with build 1 and B with
  build 2, as in the middle of a deploy. Pages are loaded until A has answered build 2's
  stylesheet URL and B build 1's. Then the deploy finishes (A restarts with build 2) and
  every visitor gets build 2's stylesheet at once, without touching the CDN. With
  ``CDN_ORIGIN_CACHE`` off the same sequence leaves the CDN holding build 1's bytes (or a
  404, for hashed names) under build 2's URL: the failure the setting prevents.
- **CORS.** A page on the app's origin runs a module script and loads a font from the CDN's
  origin; with ``CDN_CORS=None`` the browser blocks both.
- **Precompressed.** Through the CDN the bytes on the wire are the ``.br``/``.gz`` files that
  ``quart-cdn digest --brotli --gzip`` wrote, as ``Accept-Encoding`` asks; Chromium decodes
  them and applies the stylesheet.

Run with ``pytest -m e2e``; skipped without nginx and chromium (see ``test_browser.py``).
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from _harness import Chromium, find_chromium, find_nginx, free_port, http_client, wait_until
from _origin_harness import CDN, COLOURS, Build, Instance, make_build

NGINX = find_nginx()
CHROMIUM = find_chromium()
IMMUTABLE = "public, max-age=31536000, immutable"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="end-to-end test: Linux only"),
    pytest.mark.skipif(NGINX is None, reason="nginx not found (or set QUART_CDN_NGINX)"),
    pytest.mark.skipif(CHROMIUM is None, reason="chromium not found (or set QUART_CDN_CHROMIUM)"),
]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    assert CHROMIUM is not None
    with Chromium(CHROMIUM, tmp_path_factory.mktemp("chromium")) as chromium:
        yield chromium


def stylesheet(page: httpx.Response) -> str:
    found = re.search(r'<link rel="stylesheet" href="([^"]+)"', page.text)
    assert found is not None, page.text
    return found[1]


def two_ports() -> tuple[int, int]:
    first, second = free_port(), free_port()
    while second == first:
        second = free_port()
    return first, second


def mid_deploy(client: httpx.Client, cdn: CDN) -> tuple[httpx.Response, httpx.Response]:
    """Load pages through the CDN until instance A has answered build 2's stylesheet URL
    (a new page's URL at an old instance) and B build 1's (the reverse), each the first
    request the CDN made for that URL; return those two answers."""
    forward: httpx.Response | None = None
    reverse: httpx.Response | None = None
    for _ in range(12):
        page = client.get(cdn.url + "/")
        asset = client.get(stylesheet(page))
        first = asset.headers["x-cache-status"] == "MISS"
        built, served = page.headers["x-instance"], asset.headers["x-instance"]
        if first and (built, served) == ("B", "A"):
            forward = asset
        elif first and (built, served) == ("A", "B"):
            reverse = asset
        if forward is not None and reverse is not None:
            return forward, reverse
        client.get(cdn.url + "/about")  # moves the round robin on by one
    raise AssertionError(f"the instances never crossed: {forward=} {reverse=}")


@pytest.mark.parametrize("kind", ["checksum", "hashed"])
@pytest.mark.parametrize("origin_cache", ["on", "off"])
def test_rolling_deploy_never_leaves_old_bytes_under_a_new_url(
    browser: Chromium, tmp_path: Path, kind: str, origin_cache: str
) -> None:
    assert NGINX is not None
    builds = {n: make_build(tmp_path / f"build{n}", n, kind) for n in (1, 2)}
    port_a, port_b = two_ports()
    settings = {"CDN_ORIGIN_CACHE": origin_cache}

    def instance(name: str, port: int, build: Build) -> Instance:
        return Instance(name, tmp_path / "logs", port, build, cdn.host, **settings)

    with contextlib.ExitStack() as stack, http_client() as client:
        cdn = stack.enter_context(CDN(NGINX, tmp_path / "nginx", [port_a, port_b]))
        a = stack.enter_context(instance("A", port_a, builds[1]))
        stack.enter_context(instance("B", port_b, builds[2]))

        forward, reverse = mid_deploy(client, cdn)
        if kind == "checksum":  # the bytes the instance has, either way
            assert f"color: {COLOURS[1]}" in forward.text
            assert f"color: {COLOURS[2]}" in reverse.text
        else:  # the other build's hashed name is not on this instance
            assert forward.status_code == reverse.status_code == 404
        if origin_cache == "on":
            assert forward.headers["cache-control"] == "no-store"
            assert reverse.headers["cache-control"] == "no-store"

        # The deploy ends: A restarts with build 2. Nobody touches the CDN.
        a.__exit__(None, None, None)
        stack.enter_context(instance("A", port_a, builds[2]))
        visits = [browser.visit(cdn.url + "/") for _ in range(4)]
        colours = [visit.h1_colour for visit in visits]
        if origin_cache == "on":
            assert colours == [COLOURS[2]] * 4
            url = visits[-1].asset_urls[0]
            assert client.get(url).headers["x-cache-status"] == "HIT"  # and it is cached
            assert client.get(url).headers["cache-control"] == IMMUTABLE
        else:
            # The CDN kept build 1's bytes (checksum) or a 404 (hashed) under build 2's
            # URL: every visitor gets a stale page until someone invalidates the CDN.
            assert COLOURS[2] not in colours
            assert visits[-1].cache_status(visits[-1].asset_urls[0]) == "HIT"


def settled(browser: Chromium, session: str) -> tuple[str, str] | None:
    module = browser.evaluate(session, "document.getElementById('module').textContent")
    font = browser.evaluate(session, "document.getElementById('font').textContent")
    return (module, font) if font != "font not tried" else None


@pytest.mark.parametrize("cors", ["*", "off"])
def test_cors_module_script_and_font_from_the_cdn(
    browser: Chromium, tmp_path: Path, cors: str
) -> None:
    assert NGINX is not None
    build = make_build(tmp_path / "build", 1, "hashed")
    if not (build.static / "fonts/test.ttf").exists():
        pytest.skip("no .ttf font under /usr/share/fonts to load across origins")
    port = free_port()
    with (
        CDN(NGINX, tmp_path / "nginx", [port]) as cdn,
        Instance("A", tmp_path / "logs", port, build, cdn.host, CDN_CORS=cors) as app,
        browser.tab() as session,
    ):
        assert urlsplit(app.url).netloc != cdn.host  # two origins
        browser.load(session, app.url + "/cors")
        module, font = wait_until("the font load", lambda: settled(browser, session), 10)
        if cors == "*":
            assert (module, font) == ("module ran", "font loaded")
        else:
            assert (module, font) == ("module did not run", "font failed")


def test_precompressed_siblings_through_the_cdn(browser: Chromium, tmp_path: Path) -> None:
    assert NGINX is not None
    build = make_build(tmp_path / "build", 1, "hashed", compress=True)
    port = free_port()
    with (
        CDN(NGINX, tmp_path / "nginx", [port]) as cdn,
        Instance("A", tmp_path / "logs", port, build, cdn.host) as app,
        http_client() as client,
    ):
        url = stylesheet(client.get(app.url + "/"))
        plain = build.static / urlsplit(url).path.removeprefix("/static/")
        for encoding, suffix in (("br", ".br"), ("gzip", ".gz"), ("identity", "")):
            expected = Path(f"{plain}{suffix}").read_bytes()
            for status in ("MISS", "HIT"):
                with client.stream("GET", url, headers={"Accept-Encoding": encoding}) as answer:
                    wire = b"".join(answer.iter_raw())
                assert answer.headers["x-cache-status"] == status
                assert wire == expected, encoding
                assert answer.headers.get("content-encoding", "identity") == encoding
                assert answer.headers["content-type"] == "text/css; charset=utf-8"
                assert "Accept-Encoding" in answer.headers["vary"]

        visit = browser.visit(app.url + "/")
        assert visit.h1_colour == COLOURS[1]
        assert visit.responses[url]["content-encoding"] == "br"
