"""End to end, entries: a page built on ``entry_tags`` (the real Vite build with SRI hashes
in ``tests/fixtures/bundlers/vite-sri``), its assets through nginx as the CDN on another
origin, in headless Chromium:

- every stylesheet of the entry and of the chunks it imports (two levels deep) is applied,
  the entry module and the chunks it imports ran, and the shared chunk came from the CDN;
- a file changed after the build (its hash in the manifest no longer matches) is refused by
  the browser's SRI check, while the untouched ones still load: the integrity is live.

Module scripts and SRI-checked files from another origin need CORS; until the app sends
``Access-Control-Allow-Origin`` itself (``CDN_CORS``), the nginx "CDN" adds it.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from _harness import (
    ROOT,
    Chromium,
    Nginx,
    Process,
    find_chromium,
    find_nginx,
    free_port,
    http_client,
    wait_until,
)

NGINX = find_nginx()
CHROMIUM = find_chromium()
BUILD = ROOT / "tests" / "fixtures" / "bundlers" / "vite-sri"

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

SHARED = "assets/shared-CvM4hNf8.js"
MAIN = "assets/main-ykIFk1bb.js"
COLORS_CSS = "assets/colors-BfcG2swV.css"

# What the page shows once loaded (the fixture's README lists what each file does).
_REPORT_JS = """(async () => {
  const box = document.getElementById('main-box');
  const html = getComputedStyle(document.documentElement);
  return {
    ran: {...document.documentElement.dataset},
    mainBox: box ? getComputedStyle(box).backgroundColor : null,
    borderTop: html.borderTopColor,
    outline: getComputedStyle(document.body).outlineColor,
    tags: [...document.querySelectorAll('link, script[src]')].map(e => ({
      rel: e.rel || 'script', url: e.href || e.src, integrity: e.integrity,
      crossorigin: e.getAttribute('crossorigin'), nonce: e.nonce})),
    resources: performance.getEntriesByType('resource').map(e => e.name),
  };
})()"""


class EntriesSite:
    """A copy of the build, the app under uvicorn, and nginx with CORS in front of it."""

    def __init__(self, nginx: str, tmp: Path, *, cors: bool = True) -> None:
        self.nginx, self.tmp, self.cors = nginx, tmp, cors
        self.static = tmp / "static"
        shutil.copytree(BUILD, self.static)

    def tamper(self, name: str) -> None:
        """Change a built file after the build, as a compromised CDN or bucket would."""
        path = self.static / name
        path.write_bytes(path.read_bytes() + b"\n/* tampered */\n")

    def __enter__(self) -> EntriesSite:
        app_port, cdn_port = free_port(), free_port()
        while cdn_port == app_port:
            cdn_port = free_port()
        self.cdn = Nginx(self.nginx, self.tmp / "nginx", cdn_port, app_port, cors=self.cors)
        self.cdn.__enter__()
        env = {
            **os.environ,
            "ENTRIES_STATIC": str(self.static),
            "CDN_DOMAIN": self.cdn.host,
            "CDN_MANIFEST_URL": str(self.static / ".vite" / "manifest.json"),
        }
        args = [
            sys.executable,
            "-m",
            "uvicorn",
            "--app-dir",
            str(Path(__file__).parent),
            "_entries_app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(app_port),
            "--timeout-graceful-shutdown",
            "3",
        ]
        (self.tmp / "app").mkdir()
        self.app = Process("uvicorn", args, self.tmp / "app" / "uvicorn.log", env=env)
        self.url = f"http://127.0.0.1:{app_port}/"
        try:
            with http_client() as client:
                wait_until("the app to serve", lambda: self._serving(client), timeout=20)
        except BaseException:
            self.__exit__()
            raise
        return self

    def _serving(self, client: Any) -> bool:
        self.app.check_running()
        try:
            return bool(client.get(self.url + "about").status_code == 200)
        except Exception:
            return False

    def __exit__(self, *exc: object) -> None:
        self.app.stop()
        self.cdn.__exit__(None, None, None)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    assert CHROMIUM is not None
    with Chromium(CHROMIUM, tmp_path_factory.mktemp("chromium")) as chromium:
        yield chromium


def visit(browser: Chromium, url: str) -> dict[str, Any]:
    with browser.tab() as session:
        browser.load(session, url)
        # The entry module runs after the load event's scripts; wait for what it does.
        report: dict[str, Any] = browser.evaluate(session, _REPORT_JS)
        return report


def test_entry_from_the_cdn_all_css_applied_module_ran(browser: Chromium, tmp_path: Path) -> None:
    assert NGINX is not None
    with EntriesSite(NGINX, tmp_path) as site:
        report = visit(browser, site.url)
        cdn = site.cdn.host
        with http_client() as client:  # the CDN's copy of the shared chunk
            cached = client.get(f"http://{cdn}/static/{SHARED}")
    assert cached.headers["x-cache-status"] == "HIT"
    assert cached.content == (BUILD / SHARED).read_bytes()
    # The tags: each from the CDN's host, with the nonce; SRI where the manifest has a hash.
    # (The lazy chunk's tags are Vite's own, added by the dynamic import at run time; with
    # base '/static/' its CSS comes from the page's host: a Vite setting, not entry_tags.)
    tags = {
        urlsplit(tag["url"]).path.removeprefix("/static/"): tag
        for tag in report["tags"]
        if "/assets/lazy-" not in tag["url"]
    }
    assert set(tags) == {
        "assets/colors-BfcG2swV.css",
        "assets/shared-BHUdJxg6.css",
        "assets/main-Dgve9Zdc.css",
        "assets/colors-YxKiF-rr.js",
        SHARED,
        MAIN,
    }
    for name, tag in tags.items():
        assert urlsplit(tag["url"]).netloc == cdn, name
        assert tag["nonce"] == "n0nce"
        if name != "assets/main-Dgve9Zdc.css":  # the SRI plugin hashes no entry's own CSS
            assert tag["integrity"].startswith("sha384-") and tag["crossorigin"] == "", name
    # All CSS applied: the entry's, the shared chunk's and the chunk two levels down.
    assert report["mainBox"] == "rgb(255, 0, 0)"
    assert report["outline"] == "rgb(0, 128, 0)"
    assert report["borderTop"] == "rgb(128, 0, 128)"
    # The module ran, and so did the chunks it imports.
    assert {k: report["ran"].get(k) for k in ("main", "shared", "colors")} == {
        "main": "ran",
        "shared": "ran",
        "colors": "ran",
    }
    # The shared chunk came from the CDN (and nothing from the page's host but the page).
    shared = [url for url in report["resources"] if url.endswith(SHARED)]
    assert shared and all(urlsplit(url).netloc == cdn for url in shared)
    entry_files = [
        url
        for url in report["resources"]
        if "/static/" in url and "/assets/lazy-" not in url  # not the favicon, not the lazy CSS
    ]
    assert [u for u in entry_files if urlsplit(u).netloc != cdn] == []


def test_tampered_files_are_refused_by_sri(browser: Chromium, tmp_path: Path) -> None:
    assert NGINX is not None
    with EntriesSite(NGINX, tmp_path) as site:
        site.tamper(MAIN)
        site.tamper(COLORS_CSS)
        report = visit(browser, site.url)
    assert "main" not in report["ran"]  # the entry module was refused ...
    assert report["mainBox"] is None
    assert report["borderTop"] != "rgb(128, 0, 128)"  # ... and so was the tampered CSS,
    assert report["outline"] == "rgb(0, 128, 0)"  # while untouched files still apply
