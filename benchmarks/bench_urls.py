"""Sections 1-3: url_for and the template global, a non-CDN endpoint, a 50-URL page render.

Every ratio is to ``quart.url_for('static', filename=FILE)`` (or plain Quart's render) timed in
the same process, interleaved round by round with the case it is compared to.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import quart
from _fixtures import FILE, FORMATS, PAGE_FILES, make_app, make_site
from _timing import AsyncCase, Case, Stats, fmt_time, interleaved, interleaved_async
from quart import Quart

import quart_cdn

__all__ = ["run_urls"]

Row = tuple[str, str, float, float, str]  # section, what, seconds, ratio, target


def _enter(app: Quart) -> Callable[[], Any]:
    return lambda: app.test_request_context("/")


def _template_global(app: Quart) -> Callable[..., str]:
    """The ``url_for`` that the app's templates call."""
    return cast("Callable[..., str]", app.jinja_env.globals["url_for"])


async def _apps(root: Path) -> dict[str, Quart]:
    site = make_site(root)
    apps = {"plain": make_app(site, "plain"), "timestamp": make_app(site, "timestamp")}
    apps["timestamp, CDN_HTTPS=True"] = make_app(site, "timestamp", CDN_HTTPS=True)
    for kind in FORMATS:
        app = apps[kind] = make_app(site, kind)
        async with app.app_context():
            await app.extensions["cdn"].refresh()
    # The floor: the same page, its url_for global only a dict lookup of finished URLs.
    floor = apps["floor"] = make_app(site, "plain")
    urls = {name: f"https://cdn.example.com/static/{name}?t=1" for name in PAGE_FILES}

    def lookup(endpoint: str, **values: Any) -> str:
        return urls[values["filename"]]

    floor.jinja_env.globals["url_for"] = lookup
    return apps


def _report(title: str, stats: dict[str, Stats], ref: str) -> None:
    print(f"\n{title}\n  {'case':<48} {'best':>10} {'median':>10} {'ratio':>7} {'med.r':>7}")
    for name, s in stats.items():
        print(
            f"  {name:<48} {fmt_time(s.best):>10} {fmt_time(s.median):>10} "
            f"{s.ratio(stats[ref]):>6.3f}× {s.median_ratio(stats[ref]):>6.3f}×"
        )


async def run_urls(root: Path, *, repeat: int) -> list[Row]:
    apps = await _apps(root)
    rows: list[Row] = []
    quart_url_for = functools.partial(quart.url_for, "static", filename=FILE)
    cdn_url_for = functools.partial(quart_cdn.url_for, "static", filename=FILE)

    # 1. static endpoint, CDN on, warm
    ref = "quart.url_for (plain Quart)"
    cases = {ref: Case(quart_url_for, _enter(apps["plain"]))}
    cases["plain Quart's template global (app.url_for)"] = Case(
        functools.partial(_template_global(apps["plain"]), "static", filename=FILE),
        _enter(apps["plain"]),
    )
    for mode in ("timestamp", "timestamp, CDN_HTTPS=True", *FORMATS):
        app = apps[mode]
        glob = _template_global(app)
        cases[f"quart_cdn.url_for, {mode}"] = Case(cdn_url_for, _enter(app))
        cases[f"template global, {mode}"] = Case(
            functools.partial(glob, "static", filename=FILE), _enter(app)
        )
    stats = await interleaved(cases, repeat=repeat)
    _report("1. static URL, CDN on, warm (ratio to quart.url_for)", stats, ref)
    for name, s in stats.items():
        if name != ref and "plain" not in name:
            rows.append(("1", name, s.best, s.ratio(stats[ref]), "≤ 0.15"))

    # 2. a non-CDN endpoint through quart_cdn.url_for, in the CDN app
    app = apps["timestamp"]
    cases = {
        "quart.url_for('index')": Case(functools.partial(quart.url_for, "index"), _enter(app)),
        "quart_cdn.url_for('index')": Case(
            functools.partial(quart_cdn.url_for, "index"), _enter(app)
        ),
        "quart.url_for('item', id=7)": Case(
            functools.partial(quart.url_for, "item", id=7), _enter(app)
        ),
        "quart_cdn.url_for('item', id=7)": Case(
            functools.partial(quart_cdn.url_for, "item", id=7), _enter(app)
        ),
        "template global: url_for('item', id=7)": Case(
            functools.partial(_template_global(app), "item", id=7), _enter(app)
        ),
    }
    stats = await interleaved(cases, repeat=repeat)
    print("\n2. non-CDN endpoint (ratio to quart.url_for for the same endpoint)")
    for name, ref in (
        ("quart_cdn.url_for('index')", "quart.url_for('index')"),
        ("quart_cdn.url_for('item', id=7)", "quart.url_for('item', id=7)"),
        ("template global: url_for('item', id=7)", "quart.url_for('item', id=7)"),
    ):
        s, r = stats[name], stats[ref]
        print(
            f"  {name:<42} {fmt_time(s.best):>10} vs {fmt_time(r.best):>10} "
            f"{s.ratio(r):>6.3f}× (median {s.median_ratio(r):.3f}×)"
        )
        rows.append(("2", name, s.best, s.ratio(r), "≤ 1.10"))

    # 3. a cached template with 50 static url_for calls
    def render(app: Quart) -> AsyncCase:
        return AsyncCase(lambda: quart.render_template("page.html", title="t"), _enter(app))

    ref, floor = "plain Quart", "floor: a global that is only a dict lookup"
    acases = {ref: render(apps["plain"]), floor: render(apps["floor"])}
    for mode in ("timestamp", *FORMATS):
        acases[f"CDN on, {mode}"] = render(apps[mode])
    stats = await interleaved_async(acases, repeat=repeat)
    _report("3. render page.html, 50 static URLs (ratio to plain Quart)", stats, ref)
    _report("3b. the same renders (ratio to the floor)", stats, floor)
    for name, s in stats.items():
        if name not in (ref, floor):
            rows.append(("3", f"render, {name}", s.best, s.ratio(stats[ref]), "≤ 0.5"))
            rows.append(("3b", f"render vs floor, {name}", s.best, s.ratio(stats[floor]), "≤ 1.15"))
    return rows
