"""The files an origin sends: a file's precompressed siblings and the one a request accepts,
and a file's digests; each read once per version of the file (its inode, size and mtime).

A sibling (``app.css.br``, ``app.css.gz``, as ``quart-cdn digest --brotli --gzip`` writes
them) is used only when it is at least as new as the plain file, so a plain file edited
after the build is never shadowed by its old compressed copy.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat as stat_module
from dataclasses import dataclass
from typing import Final

__all__ = ["ENCODINGS", "Files", "Variant", "accepted_encodings"]

#: Content codings with a sibling suffix, best first (brotli is smaller).
ENCODINGS: Final = (("br", ".br"), ("gzip", ".gz"))
#: The algorithms a checksum manifest's values may come from (``quart-cdn manifest``).
DIGESTS: Final = ("md5", "sha1", "sha256")
CHUNK: Final = 1024 * 1024
#: Caps that keep hostile or runaway input (paths, header values) from growing memory.
MAX_FILES: Final = 10_000
MAX_HEADERS: Final = 256

FileKey = tuple[str, int, int, int]
_Siblings = tuple[tuple[str, str, os.stat_result], ...]


def accepted_encodings(header: str | None) -> dict[str, float]:
    """The content codings of an ``Accept-Encoding`` value with their weights (``q=0``
    kept, as a refusal); ``*`` stands for every coding not named."""
    accepted: dict[str, float] = {}
    for item in (header or "").split(","):
        coding, _, params = item.partition(";")
        coding = coding.strip().lower()
        if not coding:
            continue
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        accepted[coding] = weight if 0.0 <= weight <= 1.0 else 0.0
    return accepted


@dataclass(frozen=True, slots=True)
class Variant:
    """The file to send: the plain one, or an encoded sibling of it."""

    path: str
    stat: os.stat_result
    #: ``"br"``, ``"gzip"``, or ``None`` for the plain file.
    encoding: str | None = None
    #: Whether the file has siblings, so the response depends on ``Accept-Encoding``.
    varies: bool = False

    def etag(self) -> str:
        """A strong ETag of this variant: its mtime and size, and its coding, so that no
        two variants of a file share one."""
        base = f"{self.stat.st_mtime}-{self.stat.st_size}-{self.encoding or 'identity'}"
        return f'"{hashlib.md5(base.encode(), usedforsecurity=False).hexdigest()}"'


def _file_key(path: str, stat: os.stat_result) -> FileKey:
    """One version of a file: a new one (replaced, rewritten, touched) has another key."""
    return (path, stat.st_ino, stat.st_size, stat.st_mtime_ns)


class Files:
    """What is known of the files of one app: siblings and digests, per version of a file.

    Args:
        precompressed: whether siblings are looked for at all.
    """

    def __init__(self, *, precompressed: bool) -> None:
        self.precompressed = precompressed
        self._siblings: dict[FileKey, _Siblings] = {}
        self._accepts: dict[str, dict[str, float]] = {}
        self._digests: dict[FileKey, tuple[str, ...]] = {}

    def variant(self, path: str, plain: os.stat_result, accept_encoding: str | None) -> Variant:
        """The file to send for ``path`` (stat ``plain``), given ``Accept-Encoding``."""
        if not self.precompressed:
            return Variant(path, plain)
        siblings = self._find_siblings(path, plain)
        if not siblings:
            return Variant(path, plain)
        accepted = self._accepted(accept_encoding)
        best: tuple[float, str, str, os.stat_result] | None = None
        for encoding, sibling, sibling_stat in siblings:
            weight = accepted.get(encoding, accepted.get("*", 0.0))
            if weight > 0.0 and (best is None or weight > best[0]):
                best = (weight, encoding, sibling, sibling_stat)
        if best is None:
            return Variant(path, plain, varies=True)
        return Variant(best[2], best[3], best[1], varies=True)

    def forget(self, path: str) -> None:
        """Drop what is known of ``path``'s siblings (one could not be sent)."""
        for key in [key for key in self._siblings if key[0] == path]:
            del self._siblings[key]

    def digests(self, path: str, stat: os.stat_result) -> tuple[str, ...] | None:
        """The file's hex digests (:data:`DIGESTS`), or ``None`` if not read yet."""
        return self._digests.get(_file_key(path, stat))

    def read_digests(self, path: str, stat: os.stat_result) -> None:
        """Read the file and keep its digests (every algorithm ``quart-cdn manifest`` may
        have used), once per version of the file; nothing when it changed meanwhile."""
        hashes = [hashlib.new(name, usedforsecurity=False) for name in DIGESTS]
        with contextlib.suppress(OSError), open(path, "rb") as file:
            if _file_key(path, os.fstat(file.fileno())) != _file_key(path, stat):
                return
            while chunk := file.read(CHUNK):
                for hashed in hashes:
                    hashed.update(chunk)
            if len(self._digests) < MAX_FILES:
                self._digests[_file_key(path, stat)] = tuple(h.hexdigest() for h in hashes)

    def _accepted(self, header: str | None) -> dict[str, float]:
        key = header or ""
        accepted = self._accepts.get(key)
        if accepted is None:
            accepted = accepted_encodings(header)
            if len(self._accepts) < MAX_HEADERS:
                self._accepts[key] = accepted
        return accepted

    def _find_siblings(self, path: str, plain: os.stat_result) -> _Siblings:
        key = _file_key(path, plain)
        siblings = self._siblings.get(key)
        if siblings is None:
            # A few stat calls once per version of a file: microseconds, not worth a thread.
            found = []
            for encoding, suffix in ENCODINGS:
                with contextlib.suppress(OSError):
                    sibling_stat = os.stat(path + suffix)
                    if (
                        stat_module.S_ISREG(sibling_stat.st_mode)
                        and sibling_stat.st_mtime_ns >= plain.st_mtime_ns
                    ):
                        found.append((encoding, path + suffix, sibling_stat))
            siblings = tuple(found)
            if len(self._siblings) < MAX_FILES:
                self._siblings[key] = siblings
        return siblings
