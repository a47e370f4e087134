"""The one rule for a name in a manifest: a path below the static folder, nothing else.

A manifest is data from outside the app (a CI job, a bucket), and its names end up in URLs.
:func:`check_name` is the rule: it returns the name without a leading ``/`` or refuses it
with a message that says why. Refused: anything but a string, names longer than
MAX_ENTRY_LENGTH, ``//host``, a scheme (``https:``, ``javascript:``, ``C:``), control
characters, backslashes, ``?`` and ``#``, an empty name, ``.``/``..`` segments and empty
segments (a trailing ``/`` is allowed). What is left can only be a path below the static
URL path.

:func:`names_usual` is the same rule for many names at once, for speed: a few scans of
the names joined with ``/`` tell whether :func:`check_name` would keep every one of them
as it is. It is built from the same pieces (FORBIDDEN, SCHEME, DOT_SEGMENTS), clause for
clause, and ``tests/test_manifest_names.py`` checks that the two agree.
"""

from __future__ import annotations

import re
from typing import Final

from ..exceptions import ManifestParseError
from ._base import quote, where

__all__ = ["MAX_ENTRY_LENGTH", "cdn_path", "check_file", "check_name", "names_usual"]

#: The longest name accepted, in characters (a manifest is data from outside the app).
MAX_ENTRY_LENGTH: Final = 1024

# The pieces of the rule, each written once.
#: C0 controls, DEL and C1 controls (as a regular expression's character set).
CONTROLS: Final = "\x00-\x1f\x7f-\x9f"
#: Those, and the characters that end a URL path or turn it around.
FORBIDDEN: Final = CONTROLS + "?#\\\\"
#: A URL scheme at the start of a name (RFC 3986), or a drive letter (``C:``).
SCHEME: Final = r"[A-Za-z][A-Za-z0-9+.\-]*:"
#: Segments that leave (or stay in) the folder instead of naming something in it.
DOT_SEGMENTS: Final = (".", "..")

_FORBIDDEN = re.compile(f"[{FORBIDDEN}]")
_SCHEME = re.compile(SCHEME)

# The same pieces for names joined with "/": each name, and each of its segments, then
# stands between two slashes.
_CONTROLS = re.compile(f"[{CONTROLS}]")
_ASCII_FORBIDDEN: Final = ("\x7f", "?", "#", "\\")  # FORBIDDEN in ASCII, but C0
_DOTS: Final = tuple(f"/{dots}/" for dots in DOT_SEGMENTS)
_SLASH_SLASH_OR_DOT = re.compile(r"/[/.]")

# A bundler's public path in front of a file: a URL (maybe protocol-relative), and what to
# set instead of one that is not on the CDN.
_URL = re.compile(r"(?:https?:)?//", re.IGNORECASE)
_PUBLIC_PATH_HINT: Final = (
    "make the bundler write paths: webpack's output.publicPath 'auto' or '/static/', "
    "Vite's base '/static/'"
)


def check_name(value: object, what: str, source: str | None) -> str:
    """Return ``value`` without a leading ``/``, or refuse it.

    Args:
        value: a key or value read from a manifest.
        what: what it is, for the message (``"key"``, ``"value"``, ``"css name"``...).
        source: the manifest's location, for the message.

    Raises:
        ManifestParseError: ``value`` is not a safe relative name; the message quotes it
            (cut short) and says why.
    """
    if not isinstance(value, str):
        raise ManifestParseError(
            f"{where(source)} has {what} {quote(value)} of type {type(value).__name__}; "
            "expected a string",
            source=source,
        )
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
        if not value or any(p in DOT_SEGMENTS for p in parts) or "" in parts[:-1]:
            reason = "is not a relative path below the static folder"
    if reason is not None:
        raise ManifestParseError(
            f"{where(source)} refused: {what} {quote(value)} {reason}", source=source
        )
    return value


def names_usual(names: list[str], *, controls: bool = True) -> bool:
    """Whether :func:`check_name` keeps every one of ``names`` as it is (``False`` when in
    doubt: a name that ends with ``/`` or holds a ``:`` anywhere).

    Args:
        names: the names.
        controls: whether the names may hold C0 control characters; ``False`` saves the
            slowest scan, where the caller knows (JSON text without escapes holds none).
    """
    if not names or max(map(len, names)) > MAX_ENTRY_LENGTH:
        return not names
    joined = "/" + "/".join(names) + "/"
    if ":" in joined:  # may start a scheme
        return False
    if joined.isascii():
        if any(c in joined for c in _ASCII_FORBIDDEN):
            return False
        if controls and _CONTROLS.search(joined):
            return False
    elif _FORBIDDEN.search(joined):
        return False
    # "//": an empty name, a leading "/" (to drop, or "//host"), an empty segment; "/.":
    # maybe a dot segment. One scan for both, as most names have neither.
    return _SLASH_SLASH_OR_DOT.search(joined) is None or (
        "//" not in joined and not any(dots in joined for dots in _DOTS)
    )


def cdn_path(value: str, cdn: str | None) -> str:
    """``value`` without a URL of the CDN in front (``https://<cdn>/static/a.js`` is
    ``/static/a.js``), or as it is. ``cdn``: ``host[:port][/path-prefix]``, lower case."""
    if cdn and (url := _URL.match(value)):
        rest = value[url.end() :]
        if rest[: len(cdn)].lower() == cdn and rest[len(cdn) : len(cdn) + 1] == "/":
            return rest[len(cdn) :]
    return value


def check_file(value: object, what: str, source: str | None, cdn: str | None = None) -> str:
    """:func:`check_name` for a value that names a file, which a bundler may write with its
    public path in front: a URL of the CDN (``cdn``) is read as its path; any other URL is
    refused with a hint at the bundler setting to change."""
    if not isinstance(value, str) or not _URL.match(value):
        return check_name(value, what, source)
    if (path := cdn_path(value, cdn)) is not value:
        return check_name(path, what, source)
    try:
        check_name(value, what, source)
    except ManifestParseError as exc:
        raise ManifestParseError(f"{exc}; {_PUBLIC_PATH_HINT}", source=source) from None
    raise AssertionError("a URL is never a name")  # pragma: no cover
