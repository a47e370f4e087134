"""Entry graphs shaped like real bundler output, built by hand (the parser that fills them
from manifests is tested on the committed builds), and a source that serves them."""

from __future__ import annotations

from quart_cdn import Manifest, ManifestSource
from quart_cdn._entries.graph import Chunk, EntryGraph, Entrypoint

SRI = {
    "assets/main-ykIFk1bb.js": "sha384-main",
    "assets/colors-BfcG2swV.css": "sha384-colorscss",
    "assets/colors-YxKiF-rr.js": "sha384-colorsjs",
}

#: The Vite multi-entry build of tests/fixtures/bundlers/vite (colors two levels deep).
VITE_CHUNKS = {
    "_colors-BfcG2swV.css": Chunk("assets/colors-BfcG2swV.css"),
    "_colors-YxKiF-rr.js": Chunk("assets/colors-YxKiF-rr.js", css=("assets/colors-BfcG2swV.css",)),
    "_shared-BHUdJxg6.css": Chunk("assets/shared-BHUdJxg6.css"),
    "_shared-CvM4hNf8.js": Chunk(
        "assets/shared-CvM4hNf8.js",
        imports=("_colors-YxKiF-rr.js",),
        css=("assets/shared-BHUdJxg6.css",),
        assets=("assets/tiny-DOf5RPCx.woff2",),
    ),
    "src/admin.js": Chunk(
        "assets/admin-BNj4VwiH.js",
        imports=("_shared-CvM4hNf8.js",),
        css=("assets/admin-DGtaoKTT.css",),
        is_entry=True,
    ),
    "src/lazy.js": Chunk(
        "assets/lazy-D90xrTlz.js",
        imports=("_colors-YxKiF-rr.js",),
        css=("assets/lazy-BXkqtt2Y.css",),
    ),
    "src/main.js": Chunk(
        "assets/main-ykIFk1bb.js",
        imports=("_shared-CvM4hNf8.js",),
        dynamic_imports=("src/lazy.js",),
        css=("assets/main-Dgve9Zdc.css",),
        assets=("assets/box-HjG3aW9d.png",),
        is_entry=True,
    ),
    "src/theme.css": Chunk("assets/theme-Aa11Bb22.css", is_entry=True),
}
VITE = EntryGraph(chunks=VITE_CHUNKS)
VITE_SRI = EntryGraph(chunks=VITE_CHUNKS, integrity=SRI)

#: A webpack-assets-manifest build: runtime first, a split chunk, CSS per entry.
WEBPACK = EntryGraph(
    entrypoints={
        "main": Entrypoint(
            js=("js/runtime.1.js", "js/775.2.js", "js/main.3.js"), css=("css/main.4.css",)
        ),
        "admin": Entrypoint(
            js=("js/runtime.1.js", "js/775.2.js", "js/admin.5.js"), css=("css/admin.6.css",)
        ),
    },
    integrity={"js/main.3.js": "sha384-webpackmain"},
)


def vite_manifest(graph: EntryGraph = VITE, source: str = "graph") -> Manifest:
    """A Vite manifest (key -> file) carrying ``graph``."""
    mapping = {key: chunk.file for key, chunk in graph.chunks.items()}
    return Manifest(mapping, kind="mapping", format="vite", source=source, entries=graph)


def webpack_manifest(graph: EntryGraph = WEBPACK) -> Manifest:
    mapping = {"main.js": "js/main.3.js", "admin.js": "js/admin.5.js"}
    return Manifest(mapping, kind="mapping", format="json", source="graph", entries=graph)


class GraphSource(ManifestSource):
    """Serves the manifest in ``self.manifest``; a test swaps it and refreshes."""

    location = "graph"

    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest

    async def load(self) -> Manifest:
        return self.manifest
