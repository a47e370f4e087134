"""The file logic behind the command line: listing, hashing, the plan of hashed copies,
and the manifests' bytes.

Pure functions over a static directory, with no click in sight, so that they can be tested
directly; :mod:`quart_cdn._cli` is the thin shell around them, and :mod:`.files` writes
what they plan.

Symbolic links are followed, to files and to directories alike, because that is what the
static file server does; a link to a directory that contains it (a loop) is skipped.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import stat
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from .._manifest._names import MAX_ENTRY_LENGTH, check_name
from ..exceptions import CDNError, ManifestParseError

__all__ = [
    "ALGORITHMS",
    "DigestPlan",
    "FileAccessError",
    "checksum_manifest",
    "file_digest",
    "hashed_name",
    "list_files",
    "mapping_manifest",
    "name_problem",
    "plan_digest",
    "read_digest",
]

ALGORITHMS: Final = ("md5", "sha1", "sha256")
#: How many hex digits of the digest go into a hashed name (``app.1a2b3c4d.css``).
HASH_LENGTH: Final = 8
#: Temporary files start with this; a listing skips them (another run may be writing).
TEMP_PREFIX: Final = ".quart-cdn-"
COMPRESSED: Final = (".gz", ".br")
# name.<8+ hex>[.ext]: what a hashed copy's base name looks like.
_HASHED = re.compile(r"(?P<stem>.+)\.(?P<hash>[0-9a-f]{8,})(?P<ext>\.[^.]+)?")
_CHUNK: Final = 1024 * 1024

Warn = Callable[[str], None]
Tick = Callable[[], None]


class FileAccessError(CDNError):
    """A file or directory could not be read or written; the message names it."""

    def __init__(self, verb: str, path: Path | str, exc: OSError) -> None:
        super().__init__(f"cannot {verb} {os.fspath(path)!r}: {exc.strerror or exc}")
        self.path = os.fspath(path)


def _ignore(message: str) -> None:
    pass


def list_files(root: Path, *, exclude: Collection[Path] = (), warn: Warn = _ignore) -> list[str]:
    """The regular files below ``root`` as sorted, ``/``-separated relative paths.

    ``exclude`` names files to leave out (the manifest being written), matched by identity
    so that any name for them is left out.

    Raises:
        FileAccessError: a directory cannot be listed or a link points nowhere.
    """
    skip = set()
    for path in exclude:
        with contextlib.suppress(OSError):
            st = path.stat()
            skip.add((st.st_dev, st.st_ino))
    top = root.stat()
    found: list[str] = []
    # (directory, its relative prefix, the identities of it and of its ancestors)
    stack: list[tuple[str, str, tuple[tuple[int, int], ...]]] = [
        (os.fspath(root), "", ((top.st_dev, top.st_ino),))
    ]
    while stack:
        directory, prefix, ancestors = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = list(it)
        except OSError as exc:
            raise FileAccessError("list", directory, exc) from exc
        for entry in entries:
            rel = prefix + entry.name
            if entry.name.startswith(TEMP_PREFIX) and entry.name.endswith(".tmp"):
                continue
            try:
                st = entry.stat()  # follows symbolic links
            except OSError as exc:
                raise FileAccessError("read", entry.path, exc) from exc
            key = (st.st_dev, st.st_ino)
            if stat.S_ISDIR(st.st_mode):
                if key in ancestors:
                    warn(f"skipped {rel + '/'!r}: a link to a directory that contains it")
                else:
                    stack.append((entry.path, rel + "/", (*ancestors, key)))
            elif stat.S_ISREG(st.st_mode) and key not in skip:
                found.append(rel)
    found.sort()
    return found


def name_problem(path: str, *, kind: str) -> str | None:
    """Why ``path`` cannot go in a manifest of ``kind`` (``checksum``/``mapping``), or None."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return "its name is not valid UTF-8"
    if len(path) > MAX_ENTRY_LENGTH - HASH_LENGTH - 1:
        return f"its path is longer than {MAX_ENTRY_LENGTH - HASH_LENGTH - 1} characters"
    if kind == "mapping":
        try:
            check_name(path, "name", None)
        except ManifestParseError:
            return "its name holds a control character, a backslash, '?' or '#'"
        return None
    # md5sum escapes "\n" but no other line break, so no reader could split the line back.
    if len(path.replace("\n", "").splitlines()) > 1:
        return "its name holds a line break other than a newline"
    return None


def file_digest(path: Path, algorithm: str) -> str:
    """The hex digest of the file at ``path``.

    Raises:
        FileAccessError: the file cannot be read.
    """
    return read_digest(path, algorithm).hex()


def read_digest(path: Path, algorithm: str) -> bytes:
    """The raw digest of the file at ``path``, read a MiB at a time.

    Raises:
        FileAccessError: the file cannot be read.
    """
    # usedforsecurity=False keeps md5 and sha1 working on FIPS systems: these are cache keys.
    digest = hashlib.new(algorithm, usedforsecurity=False)
    try:
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise FileAccessError("read", path, exc) from exc
    return digest.digest()


def checksum_manifest(digests: Mapping[str, str], *, url_path: str) -> bytes:
    """``<hex>  <url_path>/<path>`` lines, sorted by path, exactly as md5sum prints them."""
    prefix = f"{url_path.strip('/')}/" if url_path.strip("/") else ""
    lines = []
    for rel in sorted(digests):
        path = prefix + rel
        if "\\" in path or "\n" in path:
            escaped = path.replace("\\", "\\\\").replace("\n", "\\n")
            lines.append(f"\\{digests[rel]}  {escaped}\n")
        else:
            lines.append(f"{digests[rel]}  {path}\n")
    return "".join(lines).encode("utf-8")


def mapping_manifest(mapping: Mapping[str, object]) -> bytes:
    """A JSON object, keys sorted, as webpack-manifest-plugin (or, with ``{"src",
    "integrity"}`` values, webpack-assets-manifest) writes it."""
    text = json.dumps(dict(mapping), sort_keys=True, indent=2, ensure_ascii=False)
    return (text + "\n").encode("utf-8")


def hashed_name(rel: str, hexdigest: str) -> str:
    """``css/app.css`` -> ``css/app.<first 8 hex digits>.css`` (``LICENSE`` -> ``LICENSE.<h>``)."""
    head, _, name = rel.rpartition("/")
    stem, ext = os.path.splitext(name)
    return f"{head}/{stem}.{hexdigest[:HASH_LENGTH]}{ext}".lstrip("/")


@dataclass
class DigestPlan:
    """What :func:`plan_digest` found: originals with their digests, and earlier output."""

    digests: dict[str, str] = field(default_factory=dict)
    hashed: set[str] = field(default_factory=set)
    compressed: set[str] = field(default_factory=set)

    def mapping(self) -> dict[str, str]:
        """Each original's name to its hashed copy's name."""
        return {rel: hashed_name(rel, d) for rel, d in sorted(self.digests.items())}


def plan_digest(
    root: Path, files: Iterable[str], algorithm: str, *, tick: Tick = lambda: None
) -> DigestPlan:
    """Sort ``files`` into originals, hashed copies and compressed siblings of those.

    A name of the form ``stem.<8+ hex>[.ext]`` is a hashed copy when the hex digits start the
    digest of its original (``stem[.ext]``, as WhiteNoise's ``immutable_file_test``
    round-trips a name), or of its own content under any of :data:`ALGORITHMS` (a copy whose
    original has changed or gone since, or that an earlier run made with another algorithm).
    ``X.gz`` and ``X.br`` are siblings when ``X`` is a hashed copy. ``tick`` is called once
    per file.
    """
    files = list(files)
    names = set(files)
    plan = DigestPlan()

    @functools.cache
    def digest(rel: str, algo: str) -> str:
        return file_digest(root / rel, algo)

    def is_copy(rel: str) -> bool:
        head, _, name = rel.rpartition("/")
        match = _HASHED.fullmatch(name)
        if match is None:
            return False
        original = (head + "/" if head else "") + match["stem"] + (match["ext"] or "")
        want = match["hash"]
        if original in names and digest(original, algorithm).startswith(want):
            return True
        return any(digest(rel, algo).startswith(want) for algo in ALGORITHMS)

    plan.hashed.update(rel for rel in files if is_copy(rel))
    for rel in files:
        base, suffix = os.path.splitext(rel)
        if suffix in COMPRESSED and base in plan.hashed:
            plan.compressed.add(rel)
        elif rel not in plan.hashed:
            plan.digests[rel] = digest(rel, algorithm)
        tick()
    return plan
