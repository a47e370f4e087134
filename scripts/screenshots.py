"""Save the README's screenshots, made with the end-to-end test's real parts.

    .venv/bin/python scripts/screenshots.py [--out docs]

Starts the example app behind nginx (an origin-pull cache that keeps static files for a
day) and headless Chromium, as ``tests/e2e/test_browser.py`` does, and writes:

- ``screenshot-page.png``: the example page, its stylesheet and script from the CDN;
- ``screenshot-assets.png``: where the browser got each asset, and the CDN's cache status,
  before and after a deploy that changes the CSS: with quart-cdn's manifest the new
  stylesheet arrives at once; without versioning the cache keeps serving the old one.

Needs nginx and chromium (Debian: ``apt-get install nginx-light chromium``).
"""

from __future__ import annotations

import argparse
import html
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from _harness import (  # noqa: E402
    CSS,
    Chromium,
    Site,
    Visit,
    find_chromium,
    find_nginx,
    http_client,
)

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 18px 22px; color: #1d2b3a; background: #fff; }
h1 { font-size: 19px; margin: 0 0 4px; } h2 { font-size: 15px; margin: 16px 0 6px; }
p { margin: 0 0 6px; color: #44546a; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #d0d8e2;
         white-space: nowrap; }
th { background: #eef2f7; font-weight: 600; }
code { font: 12.5px ui-monospace, monospace; }
.HIT { color: #8a5a00; font-weight: 600; } .MISS { color: #0a6b2e; font-weight: 600; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px;
          vertical-align: -1px; margin-right: 5px; border: 1px solid #0003; }
.note { font-size: 13px; }
"""


def short(url: str) -> str:
    """The path and query, with a checksum cut to 8 digits."""
    parts = urlsplit(url)
    query = parts.query
    if query.startswith("c=") and len(query) > 10:
        query = query[:10] + "…"
    return parts.path + (f"?{query}" if query else "")


def rows(label: str, visit: Visit) -> str:
    out = []
    for i, url in enumerate(visit.asset_urls):
        status = visit.cache_status(url) or "?"
        colour = visit.h1_colour
        cells = [
            html.escape(label) if i == 0 else "",
            f"<code>{html.escape(urlsplit(url).netloc)}</code>",
            f"<code>{html.escape(short(url))}</code>",
            f'<span class="{status}">{status}</span>',
            (f'<span class="swatch" style="background:{colour}"></span><code>{colour}</code>')
            if i == 0
            else "",
        ]
        out.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    return "\n".join(out)


def table(title: str, note: str, body: str) -> str:
    head = "".join(
        f"<th>{h}</th>"
        for h in ("visitor", "asset host", "asset", "X-Cache-Status", "computed h1 color")
    )
    return f"<h2>{title}</h2><p class='note'>{note}</p><table><tr>{head}</tr>{body}</table>"


def story(browser: Chromium, site: Site, before: Visit | None = None) -> tuple[Visit, Visit, str]:
    """Two visitors, one before and one after a deploy that changes the CSS."""
    if before is None:
        before = browser.visit(site.app.url + "/")
    site.deploy_new_css()
    after = browser.visit(site.app.url + "/")
    with http_client() as client:
        cached = client.get(before.asset(CSS))
    check = (
        f"The CDN still holds the old file: <code>GET {html.escape(short(before.asset(CSS)))}"
        f"</code> → <span class='{cached.headers.get('x-cache-status')}'>"
        f"{cached.headers.get('x-cache-status')}</span>, old colour."
    )
    return before, after, check


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="where to write PNGs")
    args = parser.parse_args()
    nginx, chromium = find_nginx(), find_chromium()
    if nginx is None or chromium is None:
        print("needs nginx and chromium (apt-get install nginx-light chromium)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="quart-cdn-") as tmp:
        work = Path(tmp)
        with Chromium(chromium, work / "chromium") as browser:
            with Site(nginx, work / "site", ports=(8700, 8701)) as site:
                page = browser.visit(site.app.url + "/", screenshot=True, width=860, height=340)
                assert page.screenshot is not None
                (args.out / "screenshot-page.png").write_bytes(page.screenshot)
                before, after, check = story(browser, site, before=page)
                page_url, cdn = site.app.url, site.cdn.host
            with Site(nginx, work / "plain", versioned=False, ports=(8710, 8711)) as plain:
                plain_before, plain_after, _ = story(browser, plain)
                plain_cdn = plain.cdn.host

            report = f"""<!doctype html><html><head><meta charset="utf-8">
<style>{STYLE}</style></head><body>
<h1>Where the browser got the assets from</h1>
<p>Headless Chromium loads the page from the app at <code>{page_url}</code>; nginx with
<code>proxy_cache</code> (static files kept 1 day, cache headers ignored) is the CDN.
Between the two visitors a deploy changes the CSS colour.</p>
{
                table(
                    f"With quart-cdn: manifest versions (CDN <code>{cdn}</code>)",
                    "The new build gets a new URL, so the CDN pulls it at once; "
                    "the unchanged script stays cached. " + check,
                    rows("1st, before deploy", before) + rows("2nd, after deploy", after),
                )
            }
{
                table(
                    f"Without versioning (CDN <code>{plain_cdn}</code>)",
                    "Same URL before and after: the CDN keeps serving the stale stylesheet.",
                    rows("1st, before deploy", plain_before)
                    + rows("2nd, after deploy", plain_after),
                )
            }
</body></html>"""
            png = browser.render(report, width=860, height=550)
            (args.out / "screenshot-assets.png").write_bytes(png)
    for name in ("screenshot-page.png", "screenshot-assets.png"):
        path = args.out / name
        print(f"{path} ({path.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
