"""Reading a large JSON object manifest a window at a time, for the event loop's sake.

``json.loads`` of a whole 10 MB manifest holds the event loop (and, in a worker thread,
the GIL) for tens of milliseconds. :func:`scan_object` instead cuts the text at line ends
between members of the top-level object (a JSON string holds no raw newline, so such a cut
is between tokens, and json.loads refuses a window cut anywhere else) and reads one window
of a few hundred entries at a time, yielding in between. Minified JSON, which has no line
ends to cut at, is read an entry at a time with json's own scanner. Pure and sync: the
caller decides when to go on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Generator, Iterator
from typing import Any, Final, NamedTuple, cast

__all__ = ["CHUNK_ENTRIES", "CHUNK_SIZE", "MAX_ENTRY_LENGTH", "Scan", "scan_object"]

#: How much the parser reads between two looks at the clock (bytes or characters; JSON
#: entries).
CHUNK_SIZE: Final = 16 * 1024
CHUNK_ENTRIES: Final = 256
#: The longest key or value accepted (a manifest is data from outside the app).
MAX_ENTRY_LENGTH: Final = 1024

_FORBIDDEN_BUT_BACKSLASH = re.compile(r"[\x00-\x1f\x7f-\x9f?#]")
# In names joined with "\": an empty name, a leading "/" (to drop; or "//host"), an empty
# segment, maybe a scheme (the careful path looks closer); a "." or ".." segment.
_UNUSUAL_PARTS: Final = ("\\\\", "\\/", "//", ":")
_DOT_SEGMENTS: Final = tuple(f"{a}{dots}{b}" for a in "/\\" for dots in (".", "..") for b in "/\\")
# The same in JSON text without escapes, where a name is between two quotes; and "?", "#" and
# DEL (JSON refuses the other control characters unescaped, isascii() the rest).
_UNUSUAL_IN_JSON: Final = ('""', '"/', "//", "?", "#", "\x7f")
_QUOTED_DOT_SEGMENTS: Final = tuple(f"{a}{d}{b}" for a in '"/' for d in (".", "..") for b in '"/')
# JSON's white space: always matches ("*"), so never None.
_json_space = cast(Callable[[str, int], "re.Match[str]"], re.compile(r"[ \t\n\r]*").match)
# json.loads' own scanner: the JSON value at an index, as (value, index after it).
_scan_json: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


class Scan(NamedTuple):
    """What :func:`scan_object` read: every entry, whether they were Vite's, and whether
    ``_manifest._check_relative`` takes every name as it is (none needs a closer look)."""

    entries: dict[str, str]  # name -> hashed name (a Vite entry's "file")
    vite: bool
    usual: bool


class _Unusual(Exception):
    """Raised inside :func:`scan_object` for what it leaves to the caller."""


def _read_on(text: str, start: int, pieces: Iterator[str], want: int) -> tuple[str, bool]:
    """``text[start:]`` and at least ``want`` more characters (fewer at the end of the
    text), and whether there were any more."""
    parts, got = [text[start:]], 0
    for piece in pieces:
        parts.append(piece)
        got += len(piece)
        if got >= want:
            break
    return "".join(parts), got > 0


def _cut(text: str, start: int, closer: str) -> int:
    """The last comma in ``text[start:]`` that can end a member of the top-level object:
    at the end of a line, right after ``closer``; -1 if there is none. (A JSON string holds
    no raw newline, so a cut there is between tokens; json.loads checks the rest.)"""
    end = len(text)
    while (newline := text.rfind("\n", start, end)) > start:
        comma = newline - 1
        while comma > start and text[comma] in " \t\r":
            comma -= 1
        if text[comma] == "," and text[comma - 1] == closer:
            return comma
        end = newline
    return -1


def _usual_names(names: list[str]) -> bool:
    """Whether ``_manifest._check_relative`` takes every one of ``names`` as it is: a few
    scans of them all, joined with backslashes (which a name may not hold)."""
    joined = "\\" + "\\".join(names) + "\\"
    if joined.count("\\") != len(names) + 1:
        return False
    if max(map(len, names), default=0) > MAX_ENTRY_LENGTH:
        return False
    if joined.isascii():  # then printable means no control character
        if not joined.isprintable() or "?" in joined or "#" in joined:
            return False
    elif _FORBIDDEN_BUT_BACKSLASH.search(joined):
        return False
    if any(part in joined for part in _UNUSUAL_PARTS):
        return False
    dots = "/." in joined or "\\." in joined
    return not (dots and any(part in joined for part in _DOT_SEGMENTS))


def _usual_window(members: str, names: list[str], colons: int | None) -> bool:
    """:func:`_usual_names` for the names of a window, judged mostly from its JSON text
    ``members``: with no backslash there, every name is as written between two quotes.
    ``colons`` is the number of colons that the JSON itself holds, if known."""
    if not members.isascii() or "\\" in members:
        return _usual_names(names)
    if any(part in members for part in _UNUSUAL_IN_JSON):
        return False
    dots = '".' in members or "/." in members
    if dots and any(part in members for part in _QUOTED_DOT_SEGMENTS):
        return False
    if colons is None and any(":" in name for name in names):
        return False
    if colons is not None and members.count(":") != colons:
        return False
    return max(map(len, names), default=0) <= MAX_ENTRY_LENGTH


def scan_object(pieces: Iterator[str], text: str, at: int) -> Generator[None, None, Scan | None]:
    """Read the JSON object that starts at ``text[at]`` (a ``{``) and goes on in ``pieces``,
    yielding every CHUNK_ENTRIES entries or so. ``None``: invalid JSON, or values that are
    neither all strings nor all Vite entries with a string "file", or anything else unusual
    (the caller's careful parser then has the answer and the message).
    """
    scan, space = _scan_json, _json_space
    raw: dict[str, str] = {}  # name -> hashed name, as read
    vite: bool | None = None
    usual = True  # every name so far is one that _check_relative takes as it is
    count = due = 0  # entries read; when to yield next
    at += 1  # past the "{"
    try:
        while True:
            if len(text) - at < CHUNK_SIZE // 4:
                text, _ = _read_on(text, at, pieces, CHUNK_SIZE)
                at = 0
            if count >= due:
                due = count + CHUNK_ENTRIES
                yield
            cut = _cut(text, at, "}" if vite else '"')
            if cut < 0 and vite is None:
                cut = _cut(text, at, "}")
            if cut > at:
                members = text[at:cut]
                try:
                    window = json.loads(f"{{{members}}}")
                except (ValueError, RecursionError):
                    window = {}
                kinds = set(map(type, window.values()))
                if vite is None and kinds:
                    vite = kinds == {dict}
                if vite and kinds == {dict}:
                    # Keep only the names: Vite's entry dicts would crowd the collector.
                    files = [entry.get("file") for entry in window.values()]
                    if set(map(type, files)) == {str}:
                        raw.update(zip(window, files, strict=True))
                        usual = usual and _usual_window(members, [*window, *files], None)
                        count, at = count + len(window), cut + 1
                        continue
                elif not vite and kinds == {str}:
                    raw.update(window)
                    names = [*window, *window.values()]
                    usual = usual and _usual_window(members, names, len(window))
                    count, at = count + len(window), cut + 1
                    continue
            # One entry with json's scanner: minified JSON, the last entry, or trouble.
            start = at
            try:
                at = space(text, at).end()
                if text[at] != '"':
                    raise _Unusual  # an empty object, a trailing comma...
                key, at = scan(text, at)
                at = space(text, at).end()
                if text[at] != ":":
                    raise _Unusual
                value, at = scan(text, space(text, at + 1).end())
                at = space(text, at).end()
                end = text[at]
            except (ValueError, StopIteration, IndexError):
                # The window may have cut the entry short: read as much again, try again.
                text, more = _read_on(text, start, pieces, max(len(text) - start, CHUNK_SIZE))
                if not more:
                    raise _Unusual from None
                at = 0
                continue
            if vite is None:
                vite = type(value) is dict
            if vite:
                if type(value) is not dict or type(value.get("file")) is not str:
                    raise _Unusual
                value = value["file"]
            elif type(value) is not str:
                raise _Unusual
            raw[key] = value
            usual = usual and _usual_names([key, value])
            if end == "}":
                break
            if end != ",":
                raise _Unusual
            at += 1
            count += 1
        if not all(rest.isspace() for rest in (text[at + 1 :], *pieces) if rest):
            raise _Unusual  # extra data after the object
    except (_Unusual, ValueError, StopIteration, IndexError, RecursionError):
        return None
    return Scan(raw, bool(vite), usual)
