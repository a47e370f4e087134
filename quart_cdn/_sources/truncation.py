"""Telling a whole manifest from a cut-short one, before it is parsed.

A manifest cut at a line boundary (a connection closed early, a file read while it was
rewritten in place) parses fine and then lacks names. Two rules catch what can be caught:

* **The seal.** ``quart-cdn manifest`` and ``quart-cdn digest`` put a seal *first* in what they
  write, so that no cut can remove it: for checksum lines a comment line
  ``# quart-cdn manifest: <n> entries, sha256 <hex>`` (md5sum ``-c`` skips it), for JSON a
  first member ``"__quart_cdn__": {"entries": <n>, "sha256": "<hex>"}``. The hash covers
  every byte after the seal; :func:`verify_seal` checks it and returns the manifest without
  its seal, for the parser.
* **The last newline.** Unsealed checksum lines (md5sum's own output) end every line with a
  newline; a last line without one was cut in the middle (:func:`check_last_line`).

Both are pure functions of the bytes; :func:`check_integrity` runs them in order, and every
source calls it (through a worker thread for large bodies) before parsing.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

__all__ = [
    "TruncationError",
    "check_integrity",
    "check_last_line",
    "seal_checksum_lines",
    "seal_json",
    "verify_seal",
]

_LINE_SEAL: Final = re.compile(
    rb"# quart-cdn manifest: ([0-9]{1,12}) entries, sha256 ([0-9a-f]{64})\n"
)
_JSON_SEAL: Final = re.compile(
    rb'\{"__quart_cdn__": \{"entries": ([0-9]{1,12}), "sha256": "([0-9a-f]{64})"\},?'
)
_LINE_MARK: Final = b"# quart-cdn manifest:"
_JSON_MARK: Final = b'{"__quart_cdn__"'
_FIRST_CHAR: Final = re.compile(rb"[^\s\xef\xbb\xbf]")
# The start of a checksum line (md5sum's escape mark, 8+ hex digits, a separator): a last
# line that starts so but has no newline was cut; anything else is left to the parser.
_CHECKSUM_START: Final = re.compile(rb"\\?[0-9A-Fa-f]{8,}[ \t]")


class TruncationError(ValueError):
    """The bytes are not the whole manifest: the message says what was found (a clause that
    follows the manifest's name)."""


def _entries(lines: bytes) -> int:
    return sum(1 for line in lines.split(b"\n") if line.strip())


def seal_checksum_lines(body: bytes) -> bytes:
    """``body`` (checksum lines, each ending in a newline) with its seal line put first."""
    digest = hashlib.sha256(body).hexdigest()
    return (
        b"# quart-cdn manifest: %d entries, sha256 %s\n" % (_entries(body), digest.encode()) + body
    )


def seal_json(body: bytes, *, entries: int) -> bytes:
    """``body`` (a JSON object) with the seal as its first member."""
    if not body.startswith(b"{"):
        raise ValueError("a JSON manifest to seal must start with '{'")
    rest = body[1:]
    comma = b"" if rest.lstrip().startswith(b"}") else b","
    digest = hashlib.sha256(rest).hexdigest().encode()
    return b'{"__quart_cdn__": {"entries": %d, "sha256": "%s"}%s' % (entries, digest, comma) + rest


def verify_seal(data: bytes) -> bytes:
    """``data`` without its seal once the seal matches; unsealed data is returned as it is.

    Raises:
        TruncationError: the seal is malformed, or the bytes after it are not those it was
            made for (cut short, or changed after it was written).
    """
    if data.startswith(_LINE_MARK):
        match = _LINE_SEAL.match(data)
        rest = data[match.end() :] if match else b""
        prefix = b""
    elif data.startswith(_JSON_MARK):
        match = _JSON_SEAL.match(data)
        rest = data[match.end() :] if match else b""
        prefix = b"{"
    elif len(data) > 1 and _LINE_MARK.startswith(data):  # a cut JSON fails to parse anyway
        raise TruncationError(f"is only the start of a quart-cdn seal ({data[:40]!r}): cut short")
    else:
        return data
    if match is None:
        first = data.split(b"\n", 1)[0][:80].decode("utf-8", "replace")
        raise TruncationError(f"starts with a malformed quart-cdn seal ({first!r})")
    announced, expected = int(match[1]), match[2].decode()
    if hashlib.sha256(rest).hexdigest() != expected:
        whole_lines = rest[: rest.rfind(b"\n") + 1]
        arrived = f", {_entries(whole_lines)} arrived" if prefix == b"" else ""
        raise TruncationError(
            f"does not match its seal ({announced} entries announced{arrived}, sha256 differs): "
            "it was cut short or changed after quart-cdn wrote it"
        )
    return prefix + rest


def check_last_line(data: bytes) -> None:
    """Refuse checksum lines whose last line has no newline (a cut mid-line); JSON, empty
    data and lines that are no checksum lines pass (the parser judges those).

    Raises:
        TruncationError: the last line is a checksum line without its newline.
    """
    first = _FIRST_CHAR.search(data)
    if first is None or data[first.start() : first.start() + 1] in (b"{", b"["):
        return
    last = data.rfind(b"\n")
    tail = data[last + 1 :]
    if _CHECKSUM_START.match(tail):
        shown = tail[-60:].decode("utf-8", "replace")
        raise TruncationError(
            f"ends in a line without a newline (...{shown!r}): it was cut short; "
            "checksum manifests end every line with one, as md5sum writes them"
        )


def check_integrity(data: bytes) -> bytes:
    """:func:`verify_seal`, then :func:`check_last_line` on what it returns."""
    body = verify_seal(data)
    if body is data:
        check_last_line(body)
    return body
