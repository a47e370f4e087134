"""Section 6: a warm ``entry_tags`` call for an entry with 5 CSS files and 5 preloads.

The ratio is to one ``quart.url_for('static', filename=FILE)`` timed in the same process,
interleaved round by round (target: ≤ 0.5×). Each timed loop runs in a fresh request
context, so the request's pin (made at its first call) is part of the figure.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import quart
from _fixtures import FILE, make_app, make_site
from _timing import Case, Stats, fmt_time, interleaved
from quart import Quart

import quart_cdn
from quart_cdn import CDN, Manifest, ManifestSource
from quart_cdn._entries.graph import Chunk, EntryGraph

__all__ = ["run_entries"]

Row = tuple[str, str, float, float, str]  # section, what, seconds, ratio, target
ENTRY = "src/main.ts"


def entry_graph() -> EntryGraph:
    """``src/main.ts``: imports 5 chunks (4 with CSS), has CSS of its own: 5 + 5 + 1 tags."""
    chunks = {
        f"_chunk{i}.js": Chunk(
            f"assets/chunk{i}-{i:08x}.js",
            css=(f"assets/chunk{i}-{i:08x}.css",) if i < 4 else (),
            integrity=f"sha384-{'A' * 64}",
        )
        for i in range(5)
    }
    chunks[ENTRY] = Chunk(
        "assets/main-0badc0de.js",
        imports=tuple(chunks),
        css=("assets/main-0badc0de.css",),
        is_entry=True,
        integrity=f"sha384-{'B' * 64}",
    )
    return EntryGraph(chunks=chunks)


class _GraphSource(ManifestSource):
    location = "bench graph"

    def __init__(self, graph: EntryGraph) -> None:
        mapping = {key: chunk.file for key, chunk in graph.chunks.items()}
        self.manifest = Manifest(mapping, kind="mapping", format="vite", entries=graph)

    async def load(self) -> Manifest:
        return self.manifest


async def _entries_app(root: Path) -> Quart:
    app = make_app(make_site(root, entries=10), "plain")
    app.config.update(CDN_DOMAIN="cdn.example.com", CDN_MANIFEST=True, CDN_MANIFEST_URL="x")
    cdn = CDN(app, source=_GraphSource(entry_graph()))
    async with app.app_context():
        await cdn.refresh()
    return app


def _enter(app: Quart) -> Callable[[], Any]:
    return lambda: app.test_request_context("/")


async def run_entries(root: Path, *, repeat: int) -> list[Row]:
    plain = make_app(make_site(root / "plain", entries=10), "plain")
    app = await _entries_app(root / "entries")
    glob = cast("Callable[..., Any]", app.jinja_env.globals["entry_tags"])
    async with app.test_request_context("/"):
        tags = str(glob(ENTRY))
    assert tags.count('rel="stylesheet"') == 5 and tags.count("modulepreload") == 5, tags

    ref = "quart.url_for (plain Quart)"
    cases = {
        ref: Case(functools.partial(quart.url_for, "static", filename=FILE), _enter(plain)),
        "entry_tags template global": Case(functools.partial(glob, ENTRY), _enter(app)),
        "entry_tags template global, nonce=": Case(
            functools.partial(glob, ENTRY, nonce="r4nd0mN0nce"), _enter(app)
        ),
        "quart_cdn.entry_tags": Case(functools.partial(quart_cdn.entry_tags, ENTRY), _enter(app)),
    }
    stats: dict[str, Stats] = await interleaved(cases, repeat=repeat)
    print(
        "\n6. warm entry_tags, 5 CSS + 5 preloads + 1 script (ratio to quart.url_for)\n"
        f"  {'case':<48} {'best':>10} {'median':>10} {'ratio':>7} {'med.r':>7}"
    )
    rows: list[Row] = []
    for name, s in stats.items():
        print(
            f"  {name:<48} {fmt_time(s.best):>10} {fmt_time(s.median):>10} "
            f"{s.ratio(stats[ref]):>6.3f}× {s.median_ratio(stats[ref]):>6.3f}×"
        )
        if name != ref:
            rows.append(("6", name, s.best, s.ratio(stats[ref]), "≤ 0.5"))
    return rows
