"""The manifest: an immutable mapping, and the pure parser that builds it from bytes.

Three formats are recognised from the content itself:

* checksum lines as ``md5sum``/``sha1sum``/``sha256sum`` print them (``<hex>  <path>``),
  which give ``?c=<checksum>`` versions keyed by URL path (``static/js/app.js``);
* a JSON object of strings, as webpack-manifest-plugin writes it (logical -> hashed name);
* Vite's ``manifest.json`` (logical -> ``{"file": hashed name, ...}``).

Every entry is checked as it is read, so a manifest written by someone else (a CI job, a
bucket) can never move a URL off the CDN host or out of the static path: see
``_check_relative``.

The parser is a generator that reads the text a piece at a time and yields between pieces:
:func:`parse_manifest` runs it through, :func:`parse_manifest_async` gives the event loop
back between short slices, so that a 100,000-entry manifest never holds the loop for more
than a few milliseconds. Fast paths take what needs no care (plain names, simple lines,
JSON cut into windows by ``_jsonscan``); everything else goes the careful way, whose
results and messages are the reference.
"""

from __future__ import annotations

import codecs
import itertools
import json
import re
import time
from collections.abc import Generator, Iterator, Mapping
from typing import Any, Final, Literal

import anyio

from ._entries.graph import EntryGraph
from ._jsonscan import (
    CHUNK_ENTRIES as CHUNK_ENTRIES,
    CHUNK_SIZE as CHUNK_SIZE,
    MAX_ENTRY_LENGTH as MAX_ENTRY_LENGTH,
    scan_object,
)
from .exceptions import ManifestParseError

__all__ = ["Manifest", "ManifestKind", "parse_manifest", "parse_manifest_async"]

ManifestKind = Literal["checksum", "mapping"]

#: The longest the async parser holds the event loop before letting other tasks run (s).
PARSE_SLICE: Final = 0.00025
#: A turn of the loop that takes longer than BUSY_LOOP means others have work; the parser
#: then pauses PARSE_PAUSE between slices (seconds), taking at most a fifth of the loop.
BUSY_LOOP: Final = 0.0002
PARSE_PAUSE: Final = 0.001

_CHECKSUM_LINE = re.compile(r"(\\?)([0-9A-Fa-f]{8,}) [ *](.+)")
_UNESCAPE: Final = {"n": "\n", "r": "\r", "\\": "\\"}
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
# C0 controls, DEL, C1 controls and the characters that end a URL path.
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f?#\\]")

# Fast paths, each for what needs no care; all else takes the careful path, which has the
# messages. A checksum line with no escapes, no "./" or "/" before the path, no "\r" but a
# CRLF file's; what _check_relative accepts, in one match.
_SIMPLE_LINE = re.compile(r"([0-9A-Fa-f]{8,}) [ *]([^./\r][^\r]*)\r?")
_SEGMENT = r"(?!\.\.?(?:/|\Z))[^/\x00-\x1f\x7f-\x9f?#\\]+"
_RELATIVE = re.compile(rf"(?![A-Za-z][A-Za-z0-9+.\-]*:)/?(?:{_SEGMENT}/)*{_SEGMENT}/?")
_NOT_SPACE = re.compile(r"\S")
_INNER_SPACE = re.compile(r"\S\s+\S")


class Manifest(Mapping[str, str]):
    """An immutable manifest: keys to checksums (``kind == "checksum"``) or to hashed names
    (``kind == "mapping"``).

    A new object is built on every load and swapped in whole, so a reader holding one never
    sees it change. ``format`` tells which format it was read from (``"checksum"``, ``"json"``
    or ``"vite"``) and ``source`` where from.

    Example::

        m = parse_manifest(b'{"js/app.js": "js/app.7bfe0aac.js"}', source="manifest.json")
        assert m.kind == "mapping" and m["js/app.js"] == "js/app.7bfe0aac.js"
    """

    __slots__ = ("_entries", "entries", "format", "kind", "source")

    kind: ManifestKind
    format: str
    source: str | None
    #: What the manifest says about front-end entries (empty for formats without any).
    entries: EntryGraph
    _entries: dict[str, str]

    def __init__(
        self,
        mapping: Mapping[str, str],
        *,
        kind: ManifestKind,
        format: str | None = None,
        source: str | None = None,
        entries: EntryGraph | None = None,
    ) -> None:
        self._set(dict(mapping), kind, format or kind, source, entries)

    def _set(
        self,
        mapping: dict[str, str],
        kind: ManifestKind,
        format: str,
        source: str | None,
        entries: EntryGraph | None = None,
    ) -> None:
        object.__setattr__(self, "_entries", mapping)
        object.__setattr__(self, "entries", EntryGraph() if entries is None else entries)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "format", format)
        object.__setattr__(self, "source", source)

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
        return self.kind == other.kind and self._entries == other._entries

    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def _adopt(
        cls,
        mapping: dict[str, str],
        *,
        kind: ManifestKind,
        format: str,
        source: str | None,
        entries: EntryGraph | None = None,
    ) -> Manifest:
        """A manifest of the parser's own ``mapping``, not copied (100,000 entries take
        milliseconds to copy, all in one go)."""
        manifest = cls.__new__(cls)
        manifest._set(mapping, kind, format, source, entries)
        return manifest


#: The parser's shape: a generator that yields between chunks and returns the manifest.
Steps = Generator[None, None, Manifest]
#: What the parser reads: bytes (UTF-8) or text.
Data = bytes | bytearray | str


def _where(source: str | None) -> str:
    return f"Manifest {source!r}" if source else "Manifest"


def _check_relative(value: object, what: str, source: str | None) -> str:
    """Return ``value`` without a leading ``/``, or refuse it.

    Refused: non-strings, empty names, a scheme (``https:``), ``//host``, ``.``/``..``
    segments, backslashes, control characters, ``?`` and ``#``, and names longer than
    MAX_ENTRY_LENGTH. What is left can only be a path below the static URL path.
    """
    if not isinstance(value, str):
        raise ManifestParseError(
            f"{_where(source)} has {what} {value!r} of type {type(value).__name__}; "
            "expected a string",
            source=source,
        )
    shown = value if len(value) <= 80 else value[:77] + "..."
    reason = None
    if len(value) > MAX_ENTRY_LENGTH:
        reason = f"is longer than {MAX_ENTRY_LENGTH} characters"
    elif value.startswith("//"):
        reason = "names another host"
    elif _SCHEME.match(value):
        reason = "carries a URL scheme"
    elif _FORBIDDEN.search(value):
        reason = "contains a control character, a backslash, '?' or '#'"
    else:
        value = value[1:] if value.startswith("/") else value
        parts = value.split("/")
        if not value or any(p in (".", "..") for p in parts) or "" in parts[:-1]:
            reason = "is not a relative path below the static folder"
    if reason is not None:
        raise ManifestParseError(
            f"{_where(source)} refused: {what} {shown!r} {reason}", source=source
        )
    return value


def _checksum_line(line: str, number: int, source: str | None) -> tuple[str, str] | None:
    """One checksum line as ``(path, checksum)``, ``None`` for a blank line, or refused."""
    line = line.removesuffix("\r")
    if not line.strip():
        return None
    match = _CHECKSUM_LINE.fullmatch(line)
    if match is None:
        shown = line if len(line) <= 80 else line[:77] + "..."
        raise ManifestParseError(
            f"{_where(source)} line {number} is not a checksum line "
            f"('<hex checksum>  <path>', as md5sum prints it): {shown!r}",
            source=source,
            line=number,
        )
    escaped, checksum, path = match.groups()
    if escaped:
        # md5sum escapes a path holding "\", a newline or a CR: "\\", "\n", "\r".
        path = re.sub(r"\\(.)", lambda m: _UNESCAPE.get(m[1], m[1]), path)
    if path.startswith("./"):
        path = path[2:]
    elif path.startswith("/"):
        path = path[1:]
    if not path or len(path) > MAX_ENTRY_LENGTH:
        raise ManifestParseError(
            f"{_where(source)} line {number} has an empty or over-long path",
            source=source,
            line=number,
        )
    return path, checksum.lower()


def _decode(data: Data, source: str | None) -> str:
    """The whole text at once, for the careful paths (and the message of a bad byte)."""
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ManifestParseError(
            f"{_where(source)} is not UTF-8 text: {exc}", source=source
        ) from exc


def _pieces(data: Data) -> Iterator[str]:
    """The text, CHUNK_SIZE at a time. Never the whole text as one string: the page faults
    of a fresh 20 MB string alone hold the event loop for milliseconds."""
    if isinstance(data, str):
        data = data.removeprefix("\ufeff")
        for start in range(0, len(data), CHUNK_SIZE):
            yield data[start : start + CHUNK_SIZE]
        return
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    for start in range(0, len(data), CHUNK_SIZE):
        yield decoder.decode(data[start : start + CHUNK_SIZE])
    yield decoder.decode(b"", final=True)


def _checksum_steps(pieces: Iterator[str], source: str | None) -> Steps:
    entries: dict[str, str] = {}
    simple = _SIMPLE_LINE.fullmatch
    number = 0
    begun: list[str] = []  # the start of a line that the next piece goes on with
    # md5sum ends a line only at "\n" (str.splitlines would also split at "\f", "\x85"...);
    # a raw "\r" before it is a CRLF file's, since md5sum escapes one in a name as "\r".
    for piece in itertools.chain(pieces, [None]):
        if piece is None:  # the end: what is left is the last line
            lines = ["".join(begun)]
        elif (cut := piece.rfind("\n")) >= 0:
            lines = "".join([*begun, piece[:cut]]).split("\n")
            begun = [piece[cut + 1 :]]
        else:
            begun.append(piece)
            continue
        for line in lines:
            number += 1
            match = simple(line)
            if match is not None and len(match[2]) <= MAX_ENTRY_LENGTH:
                entries[match[2]] = match[1].lower()
            elif (entry := _checksum_line(line, number, source)) is not None:
                entries[entry[0]] = entry[1]
        yield
    if not entries:
        raise ManifestParseError(f"{_where(source)} is empty", source=source)
    return Manifest._adopt(entries, kind="checksum", format="checksum", source=source)


def _parse_json(text: str, source: str | None) -> Manifest:
    """The whole JSON text at once: for the cases :func:`_json_steps` leaves to it."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, huge number, deep nesting
        raise ManifestParseError(
            f"{_where(source)} is not valid JSON: {exc}", source=source
        ) from exc
    if not isinstance(data, dict):
        raise ManifestParseError(
            f"{_where(source)} is JSON of the wrong shape: expected an object mapping names "
            f"to hashed names, got {type(data).__name__}",
            source=source,
        )
    if not data:
        raise ManifestParseError(f"{_where(source)} is an empty JSON object", source=source)
    vite = all(isinstance(v, dict) for v in data.values())
    entries: dict[str, str] = {}
    for key, value in data.items():
        if vite:
            if "file" not in value:
                raise ManifestParseError(
                    f"{_where(source)} looks like a Vite manifest but entry {key!r} has no 'file'",
                    source=source,
                )
            value = value["file"]
        entries[_check_relative(key, "key", source)] = _check_relative(value, "value", source)
    return Manifest._adopt(
        entries, kind="mapping", format="vite" if vite else "json", source=source
    )


def _json_steps(pieces: Iterator[str], text: str, at: int, source: str | None, data: Data) -> Steps:
    """A JSON object manifest, read by :func:`scan_object` a window at a time; anything
    unusual (invalid JSON, a value of the wrong type) goes to :func:`_parse_json`, and a
    name that needs care to the careful checks below, so that the result and every message
    are theirs.
    """
    scan = yield from scan_object(pieces, text, at)
    if scan is None:
        return _parse_json(_decode(data, source).strip(), source)
    raw, vite = scan.entries, scan.vite
    kind: ManifestKind = "mapping"
    format = "vite" if vite else "json"

    if scan.usual:  # nothing to refuse, nothing to change
        return Manifest._adopt(raw, kind=kind, format=format, source=source)

    entries: dict[str, str] = {}
    relative = _RELATIVE.fullmatch
    for count, (key, value) in enumerate(raw.items(), start=1):
        # As _check_relative (which has the message when this is not enough); the value
        # first, as _parse_json evaluates it first.
        if len(value) <= MAX_ENTRY_LENGTH and relative(value):
            value = value[1:] if value[0] == "/" else value
        else:
            value = _check_relative(value, "value", source)
        if len(key) <= MAX_ENTRY_LENGTH and relative(key):
            key = key[1:] if key[0] == "/" else key
        else:
            key = _check_relative(key, "key", source)
        entries[key] = value
        if count % CHUNK_ENTRIES == 0:
            yield
    return Manifest._adopt(entries, kind=kind, format=format, source=source)


def _steps(data: Data, source: str | None) -> Steps:
    """The parser, as a generator that yields between chunks and returns the manifest."""
    if not isinstance(data, str):  # what `quart-cdn manifest`/`digest` write: check, strip
        from ._sources.truncation import TruncationError, verify_seal

        try:
            data = verify_seal(bytes(data))
        except TruncationError as exc:
            raise ManifestParseError(f"{_where(source)} {exc}", source=source) from exc
    pieces = _pieces(data)
    read: list[str] = []
    try:
        for piece in pieces:  # up to the first piece that is not all white space
            read.append(piece)
            if _NOT_SPACE.search(piece):
                break
    except UnicodeDecodeError:
        _decode(data, source)  # raises, with the message of the whole text
    head = "".join(read)
    first = _NOT_SPACE.search(head)
    if first is None:
        raise ManifestParseError(f"{_where(source)} is empty", source=source)
    if head[first.start()] == "{":
        return (yield from _json_steps(pieces, head, first.start(), source, data))
    if head[first.start()] in '["' or _INNER_SPACE.search(head) is None:
        # Other JSON, or one word (a number?): refused or small, so taken whole.
        stripped = _decode(data, source).strip()
        if stripped[0] in '["' or stripped in ("null", "true", "false") or _is_number(stripped):
            return _parse_json(stripped, source)
    try:
        return (yield from _checksum_steps(itertools.chain([head], pieces), source))
    except (ManifestParseError, UnicodeDecodeError):
        _decode(data, source)  # a text that is not UTF-8 fails as that first
        raise


def parse_manifest(data: bytes | str, *, source: str | None = None) -> Manifest:
    """Parse a manifest in any of the three formats, detected from its content.

    Args:
        data: the manifest's bytes (UTF-8, a leading BOM allowed) or text.
        source: where it came from, quoted in error messages.

    Raises:
        ManifestParseError: empty, not UTF-8, or matches no format; the message names the
            source and, for checksum lines, the first bad line's number.
    """
    steps = _steps(data, source)
    while (manifest := _advance(steps)) is None:
        pass
    return manifest


def _advance(steps: Steps) -> Manifest | None:
    """Run the parser to its next pause: the manifest when it has finished, else ``None``."""
    try:
        next(steps)
    except StopIteration as done:
        manifest: Manifest = done.value
        return manifest
    return None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


async def parse_manifest_async(data: bytes | bytearray, *, source: str | None = None) -> Manifest:
    """:func:`parse_manifest`, on the event loop but a slice at a time.

    The parser gives the loop back at least every PARSE_SLICE seconds, so requests go on
    while a large manifest is read; when other tasks had work waiting (a server under
    load), it also waits PARSE_PAUSE before its next slice, so that a reload spreads thin
    over the requests instead of delaying the few that come at the same time. (A worker
    thread would not help: ``json.loads`` and dict building hold the GIL, and so the loop.)
    """
    steps = _steps(data, source)
    deadline = time.perf_counter() + PARSE_SLICE
    while (manifest := _advance(steps)) is None:
        if (now := time.perf_counter()) >= deadline:
            await anyio.sleep(0)
            if time.perf_counter() - now > BUSY_LOOP:
                await anyio.sleep(PARSE_PAUSE)
            deadline = time.perf_counter() + PARSE_SLICE
    return manifest
