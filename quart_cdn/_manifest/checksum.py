"""Checksum lines, as ``md5sum``, ``sha1sum`` and ``sha256sum`` print them.

``<hex checksum>  <path>`` a line (``*`` before the path in binary mode), where ``path`` is
the URL path without its leading slash (``static/js/app.js``); the result is a
``kind == "checksum"`` manifest whose versions are ``?c=<checksum>``. As md5sum writes
them: a line ends only at ``\\n`` (a raw ``\\r`` before it is a CRLF file's); a line that
starts with ``\\`` has ``\\\\``, ``\\n`` and ``\\r`` escapes in its path; blank lines are
skipped, and counted, since a message gives the number of the first bad line.

The text is read a slice at a time and split into lines, a few thousand at a time; a
"line" longer than MAX_LINE_LENGTH is refused as soon as that many characters are read, so
no single step ever looks at more than a slice, whatever the input.
"""

from __future__ import annotations

import re
from typing import Final

from ._base import MAX_ENTRIES, Data, Parsed, Steps, decoded, quote, refuse, too_many
from ._names import MAX_ENTRY_LENGTH

__all__ = ["LINES_PER_STEP", "MAX_LINE_LENGTH", "claims", "parse"]

#: The longest line read (characters): a sha512 checksum and a path of MAX_ENTRY_LENGTH
#: characters, every one of them escaped, fit.
MAX_LINE_LENGTH: Final = 4 * MAX_ENTRY_LENGTH
#: How many lines a step reads before it yields.
LINES_PER_STEP: Final = 2048

_CHECKSUM_LINE = re.compile(r"(\\?)([0-9A-Fa-f]{8,}) [ *](.+)")
# What needs no care, in one match: no escape, no "./" or "/" before the path, no "\r" but
# a CRLF file's; anything else goes through _line, which has the messages.
_SIMPLE_LINE = re.compile(r"([0-9A-Fa-f]{8,}) [ *]([^./\r][^\r]*)\r?")
_ESCAPE = re.compile(r"\\(.)")
_UNESCAPE: Final = {"n": "\n", "r": "\r", "\\": "\\"}


def claims(data: Data, first: int) -> bool:
    """Checksum lines are what is left when no other format claims the text."""
    return True


def _not_a_line(line: str, number: int, source: str | None) -> Exception:
    return refuse(
        source,
        f"line {number} is not a checksum line "
        f"('<hex checksum>  <path>', as md5sum prints it): {quote(line)}",
        line=number,
    )


def _line(line: str, number: int, source: str | None) -> tuple[str, str] | None:
    """One checksum line as ``(path, checksum)``, ``None`` for a blank line, or refused."""
    line = line.removesuffix("\r")
    if not line.strip():
        return None
    if len(line) > MAX_LINE_LENGTH:
        raise _too_long(number, source)
    match = _CHECKSUM_LINE.fullmatch(line)
    if match is None:
        raise _not_a_line(line, number, source)
    escaped, checksum, path = match.groups()
    if escaped:
        # md5sum escapes a path holding "\", a newline or a CR: "\\", "\n", "\r".
        path = _ESCAPE.sub(lambda m: _UNESCAPE.get(m[1], m[1]), path)
    if path.startswith("./"):
        path = path[2:]
    elif path.startswith("/"):
        path = path[1:]
    if not path or len(path) > MAX_ENTRY_LENGTH:
        raise refuse(source, f"line {number} has an empty or over-long path", line=number)
    return path, checksum.lower()


def _too_long(number: int, source: str | None) -> Exception:
    return refuse(
        source,
        f"line {number} is longer than {MAX_LINE_LENGTH} characters; "
        "not a checksum line ('<hex checksum>  <path>', as md5sum prints it)",
        line=number,
    )


def parse(data: Data, begin: int, first: int, source: str | None, cdn: str | None) -> Steps:
    """Read checksum lines from ``data[begin:]`` (``first`` is where the text starts
    after white space; lines are counted from ``begin``; paths are never URLs: no ``cdn``)."""
    entries: dict[str, str] = {}
    simple = _SIMPLE_LINE.fullmatch
    number = 0  # lines read
    begun: list[str] = []  # the start of a line that the next piece goes on with
    pieces = decoded(data, begin, source)
    while True:
        piece = next(pieces, None)
        if piece is None:  # the end: what is left is the last line
            lines = ["".join(begun)]
        elif (cut := piece.rfind("\n")) < 0:
            begun.append(piece)
            if sum(map(len, begun)) > MAX_LINE_LENGTH:  # a line without its end, so far
                raise _too_long(number + 1, source)
            yield
            continue
        else:
            lines = "".join([*begun, piece[:cut]]).split("\n")
            begun = [piece[cut + 1 :]]
        for at in range(0, len(lines), LINES_PER_STEP):
            for line in lines[at : at + LINES_PER_STEP]:
                number += 1
                if not line:
                    continue
                match = simple(line)
                if (
                    match is not None
                    and len(match[2]) <= MAX_ENTRY_LENGTH
                    and len(line) <= MAX_LINE_LENGTH
                ):
                    entries[match[2]] = match[1].lower()
                elif (entry := _line(line, number, source)) is not None:
                    entries[entry[0]] = entry[1]
            if len(entries) > MAX_ENTRIES:
                raise too_many(source)
            yield
        if piece is None:
            break
        if len(begun[0]) > MAX_LINE_LENGTH:
            raise _too_long(number + 1, source)
    if not entries:
        raise refuse(source, "is empty")
    return Parsed(entries, "checksum", "checksum", {}, {}, {})
