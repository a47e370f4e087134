"""The manifest: an immutable mapping, and the pure parser that builds it from bytes.

The format is recognised from the content, by the first entry of FORMATS that claims it:

* ``json``: a JSON object, as webpack-manifest-plugin (names to hashed names), Vite
  (names to chunks) or webpack-assets-manifest (names to ``{src, integrity}``) write it,
  with ``entrypoints`` and ``integrity`` sections (webpack-assets-manifest, Symfony
  Encore's ``entrypoints.json``);
* ``checksum``: lines as ``md5sum``/``sha1sum``/``sha256sum`` print them (``<hex>  <path>``),
  which give ``?c=<checksum>`` versions keyed by URL path (``static/js/app.js``).

A new format is one module (``claims(data, first)`` and ``parse(data, begin, first,
source, cdn)``, see :mod:`._base`) and one line in FORMATS. Every name is checked as it is
read (:mod:`._names`), so a manifest written by someone else can never move a URL off the
CDN host or out of the static path.

Each parser is a generator that yields after every bounded piece of work:
:func:`parse_manifest` runs it through, :func:`parse_manifest_async` gives the event loop
back between short slices of time, so that no manifest, however large or hostile, holds
the loop for more than a few milliseconds. The text is read once, errors included.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, NamedTuple

import anyio

from . import checksum, json
from ._base import (
    CHUNK_SIZE as CHUNK_SIZE,
    Chunk,
    ChunkData,
    Data,
    Entrypoint,
    ManifestKind,
    Parsed,
    Steps,
    listed_files,
    refuse,
)
from ._names import MAX_ENTRY_LENGTH as MAX_ENTRY_LENGTH

if TYPE_CHECKING:
    from .._entries.graph import EntryGraph

__all__ = [
    "FORMATS",
    "Chunk",
    "Entrypoint",
    "Format",
    "Manifest",
    "ManifestKind",
    "parse_manifest",
    "parse_manifest_async",
]

#: The longest the async parser holds the event loop before letting other tasks run (s).
PARSE_SLICE: Final = 0.00025
#: A turn of the loop that takes longer than BUSY_LOOP means others have work; the parser
#: then pauses PARSE_PAUSE between slices (seconds), taking at most a fifth of the loop.
BUSY_LOOP: Final = 0.0002
PARSE_PAUSE: Final = 0.001

_BOM: Final = b"\xef\xbb\xbf"
#: How many entries a released manifest frees between two turns of the loop.
_RELEASE_SLICE: Final = 4096


class Format(NamedTuple):
    """A manifest format: whether it ``claims`` a text (from its first byte after white
    space), and its parser."""

    name: str
    claims: Callable[[Data, int], bool]
    parse: Callable[[Data, int, int, str | None, str | None], Steps]


#: The formats, in the order they are asked; checksum lines take whatever is left.
FORMATS: Final = (
    Format("json", json.claims, json.parse),
    Format("checksum", checksum.claims, checksum.parse),
)


class Manifest(Mapping[str, str]):
    """An immutable manifest: keys to checksums (``kind == "checksum"``) or to hashed names
    (``kind == "mapping"``).

    A new object is built on every load and swapped in whole, so a reader holding one never
    sees it change. ``format`` tells which format it was read from (``"checksum"``,
    ``"json"``, ``"vite"``, ``"assets"`` or ``"entrypoints"``) and ``source`` where from.
    :meth:`chunk` tells what else it says about a name (a Vite entry's CSS and imports),
    :attr:`entrypoints` the entries that webpack-assets-manifest or Symfony Encore list,
    and :meth:`integrity` the SRI hash of a file, where the manifest has one.

    Example::

        m = parse_manifest(b'{"js/app.js": "js/app.7bfe0aac.js"}', source="manifest.json")
        assert m.kind == "mapping" and m["js/app.js"] == "js/app.7bfe0aac.js"
    """

    __slots__ = (
        "_chunks",
        "_entries",
        "_entrypoints",
        "_files",
        "_graph",
        "_integrity",
        "format",
        "kind",
        "source",
    )

    kind: ManifestKind
    format: str
    source: str | None
    _entries: dict[str, str]
    _chunks: dict[str, ChunkData]
    _entrypoints: dict[str, Entrypoint]
    _integrity: dict[str, str]
    _files: set[str]
    _graph: EntryGraph | None

    def __init__(
        self,
        mapping: Mapping[str, str],
        *,
        kind: ManifestKind,
        format: str | None = None,
        source: str | None = None,
        chunks: Mapping[str, Chunk] | None = None,
        entrypoints: Mapping[str, Entrypoint] | None = None,
        integrity: Mapping[str, str] | None = None,
        entries: EntryGraph | None = None,
    ) -> None:
        if entries is not None:  # a graph made by hand (tests, a source of one's own)
            chunks = {**entries.chunks, **(chunks or {})}
            entrypoints = {**entries.entrypoints, **(entrypoints or {})}
            integrity = {**entries.integrity, **(integrity or {})}
        more = {name: tuple(chunk) for name, chunk in (chunks or {}).items()}
        parsed = Parsed(
            dict(mapping),
            kind,
            format or kind,
            more,  # type: ignore[arg-type]
            dict(entrypoints or {}),
            dict(integrity or {}),
        )
        files: set[str] = set()
        for _ in listed_files(parsed, files):
            pass
        self._set(parsed, source, files)

    def _set(self, parsed: Parsed, source: str | None, files: set[str]) -> None:
        for name, value in (
            ("_entries", parsed.entries),
            ("kind", parsed.kind),
            ("format", parsed.format),
            ("source", source),
            ("_chunks", parsed.chunks),
            ("_entrypoints", parsed.entrypoints),
            ("_integrity", parsed.integrity),
            ("_files", files),
            ("_graph", None),
        ):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Manifest is immutable; cannot set {name!r}")

    def __getitem__(self, key: str) -> str:
        return self._entries[key]

    def get(self, key: str, default: Any = None) -> Any:  # faster than Mapping.get
        return self._entries.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"<Manifest {self.format} with {len(self._entries)} entries from {self.source!r}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Manifest):
            return NotImplemented
        return (
            self.kind == other.kind
            and self._entries == other._entries
            and self._chunks == other._chunks
            and self._entrypoints == other._entrypoints
            and self._integrity == other._integrity
        )

    __hash__ = None  # type: ignore[assignment]

    def chunk(self, name: str) -> Chunk | None:
        """What the manifest says about ``name``: its :class:`Chunk` (one with only the
        file when there is no more to say), or ``None`` when it does not list ``name``."""
        found = self._chunks.get(name)
        if found is not None:
            return Chunk._make(found)
        if name in self._entries and self.kind == "mapping":
            return Chunk(self._entries[name])
        return None

    @property
    def entrypoints(self) -> Mapping[str, Entrypoint]:
        """The entries of webpack-assets-manifest's ``entrypoints`` or Symfony Encore's
        ``entrypoints.json``: name -> :class:`Entrypoint` (empty for other manifests)."""
        return MappingProxyType(self._entrypoints)

    def integrity(self, file: str) -> str | None:
        """The SRI hash the manifest gives for ``file`` (a hashed name), if any."""
        return self._integrity.get(file)

    def lists(self, file: str) -> bool:
        """Whether the manifest lists ``file`` as a file the bundler made: a mapping's
        value, or a file of its entries (a Vite chunk's CSS or assets, an entrypoint's JS)."""
        return file in self._files

    @property
    def entries(self) -> EntryGraph:
        """What the manifest says about front-end entries (empty for formats without any),
        as :func:`~quart_cdn.entry_tags` reads it."""
        graph = self._graph
        if graph is None:
            from .._entries.graph import EntryGraph

            graph = EntryGraph.of(self, MappingProxyType(self._integrity))
            object.__setattr__(self, "_graph", graph)
        return graph

    def _drop_graph(self) -> None:
        object.__setattr__(self, "_graph", None)  # made again when asked for

    def _release_steps(self) -> Iterator[None]:
        """Empty the manifest a slice at a time, yielding in between: only for a replaced
        manifest that nothing else holds (see :mod:`quart_cdn._release`)."""
        self._drop_graph()
        for container in (self._files, self._entries, self._chunks, self._integrity):
            pop = container.popitem if isinstance(container, dict) else container.pop
            while container:
                for _ in range(min(len(container), _RELEASE_SLICE)):
                    pop()
                yield

    @classmethod
    def _adopt(cls, parsed: Parsed, source: str | None, files: set[str]) -> Manifest:
        """A manifest of the parser's own entries, not copied (100,000 entries take
        milliseconds to copy, all in one go)."""
        manifest = cls.__new__(cls)
        manifest._set(parsed, source, files)
        return manifest


def _first(data: Data, begin: int) -> Generator[None, None, int]:
    """The offset of the first byte after ASCII white space from ``begin`` (or the end)."""
    for at in range(begin, len(data), CHUNK_SIZE):
        piece = data[at : at + CHUNK_SIZE]
        if stripped := len(piece) - len(piece.lstrip()):
            if stripped < len(piece):
                return at + stripped
            yield
        else:
            return at
    return len(data)


def _steps(
    data: bytes | bytearray | str, source: str | None, cdn: str | None = None
) -> Generator[None, None, Manifest]:
    """The parser, as a generator that yields between bounded pieces of work."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    else:  # what `quart-cdn manifest`/`digest` write: check the seal and take it off
        from .._sources.truncation import TruncationError, verify_seal

        try:
            data = verify_seal(bytes(data))
        except TruncationError as exc:
            raise refuse(source, str(exc)) from exc
    begin = len(_BOM) if data[: len(_BOM)] == _BOM else 0
    first = yield from _first(data, begin)
    if first == len(data):
        raise refuse(source, "is empty")
    for format in FORMATS:
        if format.claims(data, first):
            parsed = yield from format.parse(data, begin, first, source, cdn)
            files: set[str] = set()
            yield from listed_files(parsed, files)
            return Manifest._adopt(parsed, source, files)
    raise AssertionError("the last format claims every text")  # pragma: no cover


def _advance(steps: Generator[None, None, Manifest]) -> Manifest | None:
    """Run the parser to its next pause: the manifest when it has finished, else ``None``."""
    try:
        next(steps)
    except StopIteration as done:
        manifest: Manifest = done.value
        return manifest
    return None


def parse_manifest(
    data: bytes | str, *, source: str | None = None, cdn: str | None = None
) -> Manifest:
    """Parse a manifest in any of the formats, detected from its content.

    Args:
        data: the manifest's bytes (UTF-8, a leading BOM allowed) or text.
        source: where it came from, quoted in error messages.
        cdn: the CDN, ``host[:port][/path-prefix]`` in lower case (``CDN_DOMAIN``): a file
            written as a URL on it (a bundler's public path) is read as its path; any other
            URL is refused.

    Raises:
        ManifestParseError: empty, not UTF-8, or matches no format; the message names the
            source and the first problem (for checksum lines, the bad line's number).
    """
    steps = _steps(data, source, cdn)
    while (manifest := _advance(steps)) is None:
        pass
    return manifest


async def parse_manifest_async(
    data: bytes | bytearray, *, source: str | None = None, cdn: str | None = None
) -> Manifest:
    """:func:`parse_manifest`, on the event loop but a slice at a time.

    The parser gives the loop back at least every PARSE_SLICE seconds, so requests go on
    while a large manifest is read; when other tasks had work waiting (a server under
    load), it also waits PARSE_PAUSE before its next slice, so that a reload spreads thin
    over the requests instead of delaying the few that come at the same time. (A worker
    thread would not help: the parser's Python side holds the GIL, and so the loop.)
    """
    steps = _steps(data, source, cdn)
    deadline = time.perf_counter() + PARSE_SLICE
    while (manifest := _advance(steps)) is None:
        if (now := time.perf_counter()) >= deadline:
            await anyio.sleep(0)
            if time.perf_counter() - now > BUSY_LOOP:
                await anyio.sleep(PARSE_PAUSE)
            deadline = time.perf_counter() + PARSE_SLICE
    return manifest
