"""The entry graph: Vite chunks and webpack/Encore entrypoints, immutable and framework-free.

A :class:`EntryGraph` is built once per manifest load, by the parser, from the same single
pass over the JSON. Every name in it is a file name relative to the endpoint's static folder
(the bundler's public path already taken off), so that the adapters turn them into URLs the
way they turn any static file name into one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["Chunk", "EntryGraph", "Entrypoint"]


@dataclass(frozen=True, slots=True)
class Chunk:
    """One Vite manifest entry (a chunk, an entry or an asset).

    Attributes:
        file: the built file, relative to the static folder (``assets/main-4889e940.js``).
        css: the CSS files the chunk itself needs, in the manifest's order.
        imports: keys of the chunks it imports statically (to follow, and to preload).
        dynamic_imports: keys of the chunks it imports with ``import()`` (never preloaded).
        assets: other files it references (images, fonts).
        is_entry: the chunk is an entry point (``isEntry``).
        integrity: its SRI hash (``sha384-...``) when the manifest has one.
    """

    file: str
    css: tuple[str, ...] = ()
    imports: tuple[str, ...] = ()
    dynamic_imports: tuple[str, ...] = ()
    assets: tuple[str, ...] = ()
    is_entry: bool = False
    integrity: str | None = None


@dataclass(frozen=True, slots=True)
class Entrypoint:
    """One webpack (webpack-assets-manifest, Symfony Encore) entrypoint: its files in order,
    runtime and split chunks included, each relative to the static folder."""

    js: tuple[str, ...] = ()
    css: tuple[str, ...] = ()


def _frozen(mapping: Mapping[str, object] | None) -> Mapping[str, object]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True, slots=True)
class EntryGraph:
    """Everything a manifest says about entries.

    Attributes:
        chunks: Vite's manifest by key (``src/main.ts``, ``index.html``, ``_shared-x.js``).
        entrypoints: webpack/Encore entrypoints by name (``main``, ``app``).
        integrity: SRI hash by file name, for every file the manifest gives one for
            (Vite ``integrity`` fields, webpack-assets-manifest values, Encore's map).
    """

    chunks: Mapping[str, Chunk] = field(default_factory=dict)
    entrypoints: Mapping[str, Entrypoint] = field(default_factory=dict)
    integrity: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("chunks", "entrypoints", "integrity"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    def __bool__(self) -> bool:
        return bool(self.chunks or self.entrypoints)
