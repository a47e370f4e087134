"""What an entry needs: its scripts, stylesheets and preloads, as file names.

:func:`resolve` walks an :class:`~.graph.EntryGraph` the way Vite's backend-integration
guide describes (and Laravel's ``@vite`` does): the entry's module script, the CSS of every
chunk it imports statically, followed recursively, then its own CSS, and each imported
chunk as a ``modulepreload``. A webpack or Encore entrypoint is its ordered lists of JS
(classic scripts) and CSS. The result holds file names relative to the static folder, with
their SRI hashes: URLs are the adapters' business.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .graph import Chunk, EntryGraph

__all__ = ["File", "Resolution", "merge", "resolve"]

#: A file of an entry: ``(name relative to the static folder, SRI hash or None)``.
File = tuple[str, "str | None"]


@dataclass(frozen=True, slots=True)
class Resolution:
    """The files of one entry (or of several, merged), each once, in load order.

    Attributes:
        styles: stylesheets, dependencies' before the entry's own (the cascade's order).
        preloads: statically imported chunks, for ``modulepreload`` (Vite only).
        scripts: ES module scripts (Vite entries).
        classic: classic scripts, in order (webpack/Encore entrypoints: runtime first).
    """

    styles: tuple[File, ...] = ()
    preloads: tuple[File, ...] = ()
    scripts: tuple[File, ...] = ()
    classic: tuple[File, ...] = ()


def _is_css(name: str) -> bool:
    return name.lower().endswith(".css")


def _integrity(graph: EntryGraph, name: str, chunk: Chunk | None = None) -> str | None:
    found = graph.integrity.get(name)
    if found is None and chunk is not None and chunk.file == name:
        return chunk.integrity
    return found


def _vite(graph: EntryGraph, chunk: Chunk) -> Resolution:
    chunks = graph.chunks
    styles: dict[str, str | None] = {}
    preloads: dict[str, str | None] = {}
    seen: set[str] = set()

    def walk(importer: Chunk) -> None:
        # Post-order: a chunk's own imports (their CSS first) before the chunk itself.
        for key in importer.imports:
            imported = chunks.get(key)
            if key in seen or imported is None:
                continue
            seen.add(key)
            walk(imported)
            for css in imported.css:
                styles.setdefault(css, _integrity(graph, css))
            if not _is_css(imported.file):
                preloads.setdefault(imported.file, _integrity(graph, imported.file, imported))

    walk(chunk)
    for css in chunk.css:
        styles.setdefault(css, _integrity(graph, css))
    scripts: dict[str, str | None] = {}
    own = _integrity(graph, chunk.file, chunk)
    if _is_css(chunk.file):  # a CSS entry (src/main.css) is a stylesheet, never a script
        styles.setdefault(chunk.file, own)
    else:
        scripts[chunk.file] = own
        preloads.pop(chunk.file, None)
    return Resolution(tuple(styles.items()), tuple(preloads.items()), tuple(scripts.items()))


def resolve(graph: EntryGraph, name: str) -> Resolution | None:
    """The files of entry ``name`` (a Vite manifest key, or a webpack/Encore entrypoint
    name), or ``None`` when the graph has no such entry."""
    chunk = graph.chunks.get(name)
    if chunk is not None:
        return _vite(graph, chunk)
    entrypoint = graph.entrypoints.get(name)
    if entrypoint is None:
        return None
    return Resolution(
        styles=tuple(dict.fromkeys((f, _integrity(graph, f)) for f in entrypoint.css)),
        classic=tuple(dict.fromkeys((f, _integrity(graph, f)) for f in entrypoint.js)),
    )


def merge(resolutions: Iterable[Resolution]) -> Resolution:
    """Several entries' files for one page: each file once, the first time it is needed;
    a file that one entry loads as a script is not preloaded for another."""
    styles: dict[str, str | None] = {}
    preloads: dict[str, str | None] = {}
    scripts: dict[str, str | None] = {}
    classic: dict[str, str | None] = {}
    for resolution in resolutions:
        for files, into in (
            (resolution.styles, styles),
            (resolution.preloads, preloads),
            (resolution.scripts, scripts),
            (resolution.classic, classic),
        ):
            for name, integrity in files:
                into.setdefault(name, integrity)
    for name in (*scripts, *classic):
        preloads.pop(name, None)
    return Resolution(
        tuple(styles.items()),
        tuple(preloads.items()),
        tuple(scripts.items()),
        tuple(classic.items()),
    )
