"""What the format modules share: what a parse gives, the slices it reads, its messages.

A format module turns bytes into a :class:`Parsed` through a generator (:data:`Steps`) that
yields whenever it has done a bounded piece of work, so that the caller decides when to
give the event loop back. No step ever handles more than CHUNK_SIZE bytes of input (or a
few thousand entries) at once, whatever the input.
"""

from __future__ import annotations

import codecs
import itertools
from collections.abc import Generator, Iterable, Iterator
from typing import Final, Literal, NamedTuple

from ..exceptions import ManifestParseError

__all__ = [
    "CHUNK_SIZE",
    "MAX_ENTRIES",
    "Chunk",
    "ChunkData",
    "Data",
    "Entrypoint",
    "ManifestKind",
    "Parsed",
    "listed_files",
    "Steps",
    "decoded",
    "quote",
    "refuse",
    "too_many",
    "validated",
    "where",
]

#: How much input a step reads at a time (bytes). 16 KiB of the densest JSON (``[[],[],...``)
#: still makes ten thousand parser events at once; the parser is no faster with more.
CHUNK_SIZE: Final = 16 * 1024
#: The most entries a manifest may have. Python grows a dict by copying it whole, in one
#: go: at a quarter of a million entries that already holds the event loop for a few ms.
MAX_ENTRIES: Final = 250_000
#: How much of a value a message quotes (characters of its ``repr``).
QUOTE_LENGTH: Final = 80

ManifestKind = Literal["checksum", "mapping"]
#: What a parser reads: UTF-8 bytes.
Data = bytes | bytearray


class Chunk(NamedTuple):
    """What a manifest says about one name besides its file: a Vite manifest's chunk
    (``css``, ``imports``, ``dynamicImports``, ``assets``, ``isEntry``), and an SRI hash
    (``integrity``, as SRI plugins and webpack-assets-manifest write it).

    Every name in it is checked as the manifest's values are (``imports`` and
    ``dynamic_imports`` hold keys of the same manifest; the others, file names).
    """

    file: str
    css: tuple[str, ...] = ()
    imports: tuple[str, ...] = ()
    dynamic_imports: tuple[str, ...] = ()
    assets: tuple[str, ...] = ()
    is_entry: bool = False
    integrity: str | None = None


#: The fields of a :class:`Chunk`, as a parser keeps them (see ``Manifest.chunk``).
ChunkData = tuple[
    str, tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...], bool, "str | None"
]


class Entrypoint(NamedTuple):
    """The files a front-end entry loads, in order (runtime and split chunks included), as
    webpack-assets-manifest and Symfony Encore list them."""

    js: tuple[str, ...] = ()
    css: tuple[str, ...] = ()


class Parsed(NamedTuple):
    """What a format module read: ``entries`` (name -> checksum or hashed name); for names
    with more to say, their :class:`Chunk`'s fields; entrypoints; SRI hashes by file."""

    entries: dict[str, str]
    kind: ManifestKind
    format: str
    chunks: dict[str, ChunkData]
    entrypoints: dict[str, Entrypoint]
    integrity: dict[str, str]


#: A parser: a generator that yields between bounded pieces of work and returns its result.
Steps = Generator[None, None, Parsed]


def where(source: str | None) -> str:
    return f"Manifest {source!r}" if source else "Manifest"


def quote(value: object) -> str:
    """``repr(value)``, cut to about QUOTE_LENGTH characters: a message must stay small
    whatever the manifest holds."""
    if isinstance(value, str | bytes) and len(value) > QUOTE_LENGTH:
        value = value[:QUOTE_LENGTH]  # a repr of its own never needs more
        text = repr(value)
        return text[: QUOTE_LENGTH - 4] + "..." + text[-1]
    text = repr(value)
    return text if len(text) <= QUOTE_LENGTH else text[: QUOTE_LENGTH - 3] + "..."


def too_many(source: str | None) -> ManifestParseError:
    return refuse(source, f"has more than {MAX_ENTRIES:,} entries; refused as too large")


def refuse(source: str | None, problem: str, *, line: int | None = None) -> ManifestParseError:
    """The error for a manifest that has ``problem`` (``"is empty"``)."""
    return ManifestParseError(f"{where(source)} {problem}", source=source, line=line)


def _not_utf8(source: str | None, at: int, exc: UnicodeDecodeError) -> ManifestParseError:
    """The error for ``exc``, met in a piece that starts at byte ``at`` of the text."""
    byte = exc.object[exc.start]
    error = refuse(source, f"is not UTF-8 text: byte {at + exc.start} ({byte:#04x}): {exc.reason}")
    error.__cause__ = exc
    return error


def _pieces(data: Data, start: int, source: str | None) -> Iterator[tuple[int, bytes, str | None]]:
    """``data[start:]`` as ``(offset, slice, text)``, CHUNK_SIZE bytes at a time; the text
    is ``None`` when the slice is plain ASCII and nothing is held from the one before."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    for at in range(start, len(data), CHUNK_SIZE):
        piece = bytes(data[at : at + CHUNK_SIZE])
        held = decoder.getstate()[0]
        if held or not piece.isascii():
            try:
                yield at, piece, decoder.decode(piece)
            except UnicodeDecodeError as exc:
                raise _not_utf8(source, at - len(held), exc) from exc
        else:
            yield at, piece, None
    held = decoder.getstate()[0]
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise _not_utf8(source, len(data) - len(held), exc) from exc


def validated(data: Data, start: int, source: str | None) -> Iterator[tuple[int, bytes]]:
    """``data[start:]`` as ``(offset, slice)``, CHUNK_SIZE bytes at a time, each checked
    to be UTF-8 (a character cut between two slices is checked with the second)."""
    for at, piece, _ in _pieces(data, start, source):
        yield at, piece


def decoded(data: Data, start: int, source: str | None) -> Iterator[str]:
    """``data[start:]`` as text, CHUNK_SIZE bytes at a time. Never the whole text as one
    string: the page faults of a fresh 20 MB string alone hold the event loop for
    milliseconds."""
    for _, piece, text in _pieces(data, start, source):
        yield piece.decode("ascii") if text is None else text


#: How many names :func:`listed_files` takes between two pauses.
_LISTED_SLICE: Final = 4096


def listed_files(parsed: Parsed, files: set[str]) -> Generator[None, None, None]:
    """Fill ``files`` with every file a mapping manifest lists, a slice at a time."""
    if parsed.kind != "mapping":
        return
    names: Iterable[str] = itertools.chain(
        parsed.entries.values(),
        itertools.chain.from_iterable(
            (data[0], *data[1], *data[4]) for data in parsed.chunks.values()
        ),
        itertools.chain.from_iterable(
            (*entry.js, *entry.css) for entry in parsed.entrypoints.values()
        ),
        parsed.integrity,
    )
    iterator = iter(names)
    while batch := list(itertools.islice(iterator, _LISTED_SLICE)):
        files.update(batch)
        yield
