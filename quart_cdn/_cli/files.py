"""Writing what the command line planned: atomic files, hashed copies, compressed siblings,
and the removal of stale copies.

Every file is written atomically (a temporary file in the same directory, then
:func:`os.replace`), so a server reading the manifest or a copy never sees half of one.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Final

from .digest import TEMP_PREFIX, DigestPlan, FileAccessError, Tick

__all__ = ["clean", "gzip_compress", "write_atomic", "write_copies"]

# Formats that are compressed already, as WhiteNoise lists them: never worth a .gz/.br.
_INCOMPRESSIBLE: Final = frozenset(
    {"jpg", "jpeg", "png", "gif", "webp", "avif", "zip", "gz", "tgz", "bz2", "tbz", "xz"}
    | {"br", "zst", "swf", "flv", "woff", "woff2", "3gp", "3gpp", "asf", "avi", "m4v"}
    | {"mov", "mp4", "mpeg", "mpg", "webm", "wmv", "mp3", "ogg"}
)


def _default_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _finish(tmp: str, path: Path, like: Path | None) -> None:
    if like is not None:
        st = like.stat()
        os.chmod(tmp, stat.S_IMODE(st.st_mode))
        os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
    else:
        try:
            os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
        except FileNotFoundError:
            os.chmod(tmp, _default_mode())
    os.replace(tmp, path)


@contextlib.contextmanager
def _atomic(path: Path, like: Path | None = None) -> Iterator[str]:
    """Yield a temporary file's name beside ``path``, moved over ``path`` when the block ends.

    The file gets the mode (and times) of ``like`` if given, else the mode of the file it
    replaces, else the umask's default (never the 0600 of a temporary file).
    """
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=TEMP_PREFIX, suffix=".tmp")
        os.close(fd)
    except OSError as exc:
        raise FileAccessError("write", path, exc) from exc
    try:
        yield tmp
        _finish(tmp, path, like)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise FileAccessError("write", path, exc) from exc
        raise


def write_atomic(path: Path, data: bytes, *, like: Path | None = None, sync: bool = False) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory.

    Raises:
        FileAccessError: the file cannot be written.
    """
    with _atomic(path, like) as tmp, open(tmp, "wb") as f:
        f.write(data)
        if sync:
            f.flush()
            os.fsync(f.fileno())


def _worth_compressing(rel: str) -> bool:
    return os.path.splitext(rel)[1].lstrip(".").lower() not in _INCOMPRESSIBLE


def write_copies(
    root: Path,
    mapping: Mapping[str, str],
    *,
    compressors: Mapping[str, Callable[[bytes], bytes]] | None = None,
    tick: Tick = lambda: None,
) -> int:
    """Write each hashed copy beside its original, plus compressed siblings; return the count
    of files written.

    A copy that exists with the right size is kept. ``compressors`` maps a suffix (``.gz``)
    to a function; a sibling is written only for formats that are not compressed already and
    only when it is at least 5% smaller than the copy (as WhiteNoise does).
    """
    written = 0
    for rel, hashed in mapping.items():
        src, dest = root / rel, root / hashed
        try:
            fresh = not dest.is_file() or dest.stat().st_size != src.stat().st_size
        except OSError as exc:
            raise FileAccessError("read", src, exc) from exc
        if fresh:
            with _atomic(dest, like=src) as tmp:
                shutil.copyfile(src, tmp)
            written += 1
        if compressors and _worth_compressing(rel):
            data: bytes | None = None
            for suffix, compress in compressors.items():
                target = root / (hashed + suffix)
                if target.exists() and not fresh:
                    continue
                if data is None:
                    try:
                        data = dest.read_bytes()
                    except OSError as exc:
                        raise FileAccessError("read", dest, exc) from exc
                packed = compress(data)
                if len(packed) <= len(data) * 0.95:
                    write_atomic(target, packed, like=src)
                    written += 1
        tick()
    return written


def gzip_compress(data: bytes) -> bytes:
    """gzip at level 9 with no name and a zero time in the header: byte-identical every run."""
    return gzip.compress(data, compresslevel=9, mtime=0)


def clean(root: Path, plan: DigestPlan, mapping: Mapping[str, str]) -> list[str]:
    """Remove the hashed copies (and their siblings) that no entry of ``mapping`` names.

    Returns the removed names, sorted.

    Raises:
        FileAccessError: a file cannot be removed.
    """
    keep = set(mapping.values())
    doomed = {rel for rel in plan.hashed if rel not in keep}
    doomed |= {rel for rel in plan.compressed if os.path.splitext(rel)[0] in doomed}
    for rel in sorted(doomed):
        try:
            (root / rel).unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise FileAccessError("remove", root / rel, exc) from exc
    return sorted(doomed)
