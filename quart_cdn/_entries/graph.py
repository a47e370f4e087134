"""The entry graph: Vite chunks and webpack/Encore entrypoints, as the tag makers read them.

A manifest's :attr:`~quart_cdn.Manifest.entries` is an :class:`EntryGraph` over what the
parser read in its one pass: :class:`Chunk` and :class:`Entrypoint` are the parser's own
records (:mod:`quart_cdn._manifest._base`). Every name in it is a file name relative to the
endpoint's static folder, so that the adapters turn them into URLs the way they turn any
static file name into one. The graph is a view: building it copies nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from .._manifest._base import Chunk, Entrypoint

if TYPE_CHECKING:
    from .._manifest import Manifest

__all__ = ["Chunk", "EntryGraph", "Entrypoint"]


class _Chunks(Mapping[str, Chunk]):
    """A Vite manifest's keys as chunks, made when asked for (a large manifest's 100,000
    entries are not turned into objects up front)."""

    __slots__ = ("_manifest",)

    def __init__(self, manifest: Manifest) -> None:
        self._manifest = manifest

    def __getitem__(self, key: str) -> Chunk:
        chunk = self._manifest.chunk(key)
        if chunk is None:
            raise KeyError(key)
        return chunk

    def __iter__(self) -> Iterator[str]:
        return iter(self._manifest)

    def __len__(self) -> int:
        return len(self._manifest)


def _frozen(mapping: Mapping[str, object]) -> Mapping[str, object]:
    return MappingProxyType(mapping) if isinstance(mapping, dict) else mapping


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

    @classmethod
    def of(cls, manifest: Manifest, integrity: Mapping[str, str]) -> EntryGraph:
        """The graph of ``manifest``: every key of a Vite manifest is a chunk; other
        formats have the chunks and entrypoints their sections gave."""
        chunks: Mapping[str, Chunk] = _Chunks(manifest) if manifest.format == "vite" else {}
        return cls(chunks, manifest.entrypoints, integrity)
