"""The manifest: an immutable mapping, and the pure parser that builds it from bytes.

Three formats are recognised from the content itself:

* checksum lines as ``md5sum``/``sha1sum``/``sha256sum`` print them (``<hex>  <path>``),
  which give ``?c=<checksum>`` versions keyed by URL path (``static/js/app.js``);
* a JSON object of strings, as webpack-manifest-plugin writes it (logical -> hashed name);
* Vite's ``manifest.json`` (logical -> ``{"file": hashed name, ...}``).

Every entry is checked as it is read, so a manifest written by someone else (a CI job, a
bucket) can never move a URL off the CDN host or out of the static path: see
``_check_relative``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any, Final, Literal

import anyio.to_thread

from .exceptions import ManifestParseError

__all__ = ["Manifest", "ManifestKind", "parse_manifest", "parse_manifest_async"]

ManifestKind = Literal["checksum", "mapping"]

#: Bodies larger than this are parsed in a worker thread, off the event loop.
THREAD_PARSE_THRESHOLD: Final = 64 * 1024
#: The longest key or value accepted (a manifest is data from outside the app).
MAX_ENTRY_LENGTH: Final = 1024

_CHECKSUM_LINE = re.compile(r"(\\?)([0-9A-Fa-f]{8,}) [ *](.+)")
_UNESCAPE: Final = {"n": "\n", "r": "\r", "\\": "\\"}
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
# C0 controls, DEL, C1 controls and the characters that end a URL path.
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f?#\\]")


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

    __slots__ = ("_entries", "format", "kind", "source")

    kind: ManifestKind
    format: str
    source: str | None
    _entries: dict[str, str]

    def __init__(
        self,
        entries: Mapping[str, str],
        *,
        kind: ManifestKind,
        format: str | None = None,
        source: str | None = None,
    ) -> None:
        object.__setattr__(self, "_entries", dict(entries))
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "format", format or kind)
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


def _parse_checksums(text: str, source: str | None) -> Manifest:
    entries: dict[str, str] = {}
    # md5sum ends a line only at "\n" (str.splitlines would also split at "\f", "\x85"...);
    # a raw "\r" before it is a CRLF file's, since md5sum escapes one in a name as "\r".
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
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
        entries[path] = checksum.lower()
    if not entries:
        raise ManifestParseError(f"{_where(source)} is empty", source=source)
    return Manifest(entries, kind="checksum", format="checksum", source=source)


def _parse_json(text: str, source: str | None) -> Manifest:
    try:
        data = json.loads(text)
    except ValueError as exc:  # json.JSONDecodeError, or a number too large
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
    return Manifest(entries, kind="mapping", format="vite" if vite else "json", source=source)


def parse_manifest(data: bytes | str, *, source: str | None = None) -> Manifest:
    """Parse a manifest in any of the three formats, detected from its content.

    Args:
        data: the manifest's bytes (UTF-8, a leading BOM allowed) or text.
        source: where it came from, quoted in error messages.

    Raises:
        ManifestParseError: empty, not UTF-8, or matches no format; the message names the
            source and, for checksum lines, the first bad line's number.
    """
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ManifestParseError(
                f"{_where(source)} is not UTF-8 text: {exc}", source=source
            ) from exc
    else:
        text = data.removeprefix("\ufeff")
    stripped = text.strip()
    if not stripped:
        raise ManifestParseError(f"{_where(source)} is empty", source=source)
    if stripped[0] in '{["' or stripped in ("null", "true", "false") or _is_number(stripped):
        return _parse_json(stripped, source)
    return _parse_checksums(text, source)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


async def parse_manifest_async(data: bytes, *, source: str | None = None) -> Manifest:
    """:func:`parse_manifest`, in a worker thread when ``data`` is large.

    A small manifest is parsed inline (a thread hop costs more than the parse); a large one
    is parsed off the event loop so that requests go on while it is read.
    """
    if len(data) < THREAD_PARSE_THRESHOLD:
        return parse_manifest(data, source=source)
    return await anyio.to_thread.run_sync(lambda: parse_manifest(data, source=source))
