"""JSON object manifests: webpack-manifest-plugin's mapping and Vite's ``manifest.json``.

* A mapping of names to hashed names, as webpack-manifest-plugin writes it
  (``{"js/app.js": "js/app.7bfe0aac.js"}``): ``format == "json"``.
* Vite's manifest (``{"src/main.js": {"file": "assets/main.4889e940.js", "css": [...]}}``):
  ``format == "vite"``; each entry's ``file`` is its hashed name, and what else Vite says
  about it (``css``, ``imports``, ``dynamicImports``, ``assets``, ``isEntry``, and an
  ``integrity`` that SRI plugins add) is kept as a :class:`Chunk`.
* Entries ``{"src": hashed name, "integrity": ...}``, as webpack-assets-manifest writes
  them: ``format == "assets"``.

The shape is that of the first entry. The text is read once, by ijson's C parser
(yajl), fed CHUNK_SIZE bytes at a time; its events go through a small state machine
(``_reader.Reader``) a thousand at a time. Errors come out of the same pass: the first
problem in the text is the one reported. Nothing that the input controls makes one step
long: text that completes no token for MAX_QUIET bytes is refused at once (yajl would read
the token again from its start on every feed), nesting, lists and skipped values are
bounded, a value of the wrong type is refused as it starts, and a text that is not an
object is refused after its first slice.
"""

from __future__ import annotations

import json
import re
from typing import Final

import ijson

from ..exceptions import ManifestParseError
from ._base import Data, Steps, quote, refuse, validated
from ._names import MAX_ENTRY_LENGTH
from ._reader import DONE, FIELD, KEY, WRONG, Reader

__all__ = ["EVENTS_PER_STEP", "MAX_QUIET", "claims", "parse"]

#: How many parser events a step handles before it yields.
EVENTS_PER_STEP: Final = 1024
#: How much text may go by without a single event (a token, or white space, that long) before
#: the text is refused: yajl reads a token cut between two slices again from its start on
#: every feed, so a longer one would cost more at each.
MAX_QUIET: Final = 64 * 1024
# How far before a slice the names that its events give can start: the longest name, each
# character written as an escaped surrogate pair ("\ud83d\ude00"), and its quotes. A string
# that started further back is longer than any name, and refused as such.
_OVERLAP: Final = 12 * MAX_ENTRY_LENGTH + 2
_SCALAR = re.compile(rb"-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?|true|false|null")


def claims(data: Data, first: int) -> bool:
    """An object, an array, a string, or one bare JSON scalar (refused, but as JSON)."""
    if data[first : first + 1] in (b"{", b"[", b'"'):
        return True
    return len(data) - first <= 64 and _SCALAR.fullmatch(bytes(data[first:]).rstrip()) is not None


class _InvalidJSON(json.JSONDecodeError):
    """json's own error, for what yajl refused (its message, our position)."""

    def __init__(self, reason: str, pos: int, lineno: int, colno: int) -> None:
        ValueError.__init__(self, f"{reason}: line {lineno} column {colno} (char {pos})")
        self.msg, self.doc, self.pos, self.lineno, self.colno = reason, "", pos, lineno, colno


def _offset(message: str, piece: bytes) -> int | None:
    """Where in ``piece`` yajl stopped (just after the byte it refused), from the context its
    message shows: 30 characters either side, that point at column 40, line ends as spaces."""
    context = message.split("\n")
    if len(context) < 2 or not piece.isascii():
        return None
    shown, text = context[1], piece.replace(b"\n", b" ").replace(b"\r", b" ").decode()
    if len(shown) >= 40 and not shown[10].isspace() and (found := text.find(shown[10:40])) >= 0:
        return found + 30
    for offset in range(min(30, len(text)), -1, -1):  # near the start: padded with spaces
        if shown[40 - offset : 40] == text[:offset] and not shown[10 : 40 - offset].strip():
            return offset
    return None


def _invalid(
    source: str | None, exc: Exception, piece: bytes, at: int, lines: int, line_start: int
) -> ManifestParseError:
    """The error for what yajl refused in ``piece`` (which starts at byte ``at``, after
    ``lines`` line ends, the last at ``line_start``): its reason, and where, as close as
    its message tells (else the end of the piece)."""
    reason = str(exc).split("\n", 1)[0].strip()[:120] or type(exc).__name__
    offset = _offset(str(exc), piece)
    offset = len(piece) if offset is None else max(offset - 1, 0)  # at the byte refused
    if (newline := piece.rfind(b"\n", 0, offset)) >= 0:
        line_start = at + newline + 1
    position = at + offset
    cause = _InvalidJSON(
        reason, position, lines + piece.count(b"\n", 0, offset) + 1, position - line_start + 1
    )
    error = refuse(source, f"is not valid JSON: {cause}")
    error.__cause__ = cause
    return error


def _too_long(source: str | None, piece: bytes, key: bool) -> ManifestParseError:
    """The error for MAX_QUIET bytes of text, ending with ``piece``, that completed no token
    (in a key, when ``key``)."""
    if not piece.strip():
        return refuse(source, f"holds more than {MAX_QUIET} bytes of white space in a row")
    text = piece[:100].decode("utf-8", "replace")
    return refuse(
        source,
        f"refused: {'key' if key else 'value'} {quote(text)} is longer than "
        f"{MAX_ENTRY_LENGTH} characters",
    )


def parse(data: Data, begin: int, first: int, source: str | None, cdn: str | None) -> Steps:
    """Read a JSON manifest from ``data[first:]`` (``first``: its first byte after white
    space and a BOM); a file may be written as a URL of the CDN, ``cdn``."""
    reader = Reader(source, cdn)
    events = ijson.sendable_list()
    parser = ijson.basic_parse_coro(events, use_float=True)
    lines = line_start = at = 0  # line ends read, and where the last line starts
    quiet = 0  # bytes fed since the last event
    carry = b""  # the text from the last quote before this slice: a string's start, maybe
    piece = b""
    for at, piece in validated(data, first, source):
        try:
            parser.send(piece)
        except (ijson.JSONError, ValueError) as exc:
            error = _invalid(source, exc, piece, at, lines, line_start)
            raise error from error.__cause__
        if (newline := piece.rfind(b"\n")) >= 0:
            lines, line_start = lines + piece.count(b"\n"), at + newline + 1
        if events:
            quiet = 0
            reader.look(carry + piece)
            for start in range(0, len(events), EVENTS_PER_STEP):
                reader.feed(events[start : start + EVENTS_PER_STEP])
                yield from reader.flush()
                yield
            del events[:]
            if reader.state == WRONG and at + len(piece) < len(data):
                # Not an object, and longer than a slice: what follows cannot change that.
                raise reader.wrong_shape()
        elif reader.state != DONE and (quiet := quiet + len(piece)) >= MAX_QUIET:
            raise _too_long(source, piece, reader.state in (KEY, FIELD))
        else:
            yield
        quote = piece.rfind(b'"')
        carry = piece[quote:] if quote >= 0 else (carry + piece)[-_OVERLAP:]
    try:
        parser.close()
    except (ijson.JSONError, ValueError) as exc:
        error = _invalid(source, exc, b"", at + len(piece), lines, line_start)
        raise error from error.__cause__
    reader.feed(events)  # what only the end completes: a bare number
    yield from reader.flush()
    return reader.result()
