"""Manifests in local files (``/path/manifest.json``, ``file:///path``).

Each load is one blocking function (open, fstat, read, fstat) run in a daemon thread of its
own, awaited under the timeout. A read that hangs (a hung network mount) is abandoned at
the deadline: the thread cannot be cancelled, but nothing waits for it, neither shutdown
nor interpreter exit (it is a daemon, unlike the worker threads of aiofiles, anyio and the
default executor, which ``asyncio.run`` and the interpreter join). While an abandoned read
has not returned, later loads fail at once instead of piling up stuck threads.

The file is opened with ``O_NONBLOCK``, so a FIFO without a writer or a device cannot
block the open, and anything but a regular file is refused after ``fstat``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final, TypeVar
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import anyio

from .._config import DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT
from .._manifest import Manifest
from ..exceptions import ManifestError
from .base import ErrorTable, ManifestSource, cut

__all__ = ["FILE_ERRORS", "FileManifestSource"]

T = TypeVar("T")

_READ_SIZE: Final = 1024 * 1024
_OPEN_FLAGS: Final = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
)
_KINDS: Final = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)

#: How each foreign error of a file load is worded (see :data:`.base.ErrorTable`).
FILE_ERRORS: Final[ErrorTable] = {
    TimeoutError: "could not be read within {timeout} s; is it on a hung network mount?",
    FileNotFoundError: "does not exist",
    NotADirectoryError: "does not exist: a part of its path is a file, not a directory",
    PermissionError: "cannot be read: permission denied",
    IsADirectoryError: "is a directory, not a file",
    OSError: "cannot be read ({name}: {detail})",
    UnicodeError: "is not a valid path ({name}: {detail})",
    ValueError: "is not a valid path ({detail})",
}

Identity = tuple[int, int, int, int, int]


def _identity(st: os.stat_result) -> Identity:
    # st_ctime_ns changes on every write and metadata change and cannot be set by the
    # writer: a rewrite in place that puts size and mtime back (cp -p, touch -r) shows.
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _start_in_daemon_thread(
    func: Callable[[], T], *, name: str
) -> tuple[asyncio.Future[T], threading.Thread]:
    """Run ``func()`` in a new daemon thread; its result or error settles the future.
    Cancelling the future abandons the thread."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return  # abandoned
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result, error = func(), None
        except BaseException as exc:  # handed to the awaiting task, never lost
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits
            loop.call_soon_threadsafe(settle, result, error)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return future, thread


class FileManifestSource(ManifestSource):
    """A manifest in a local file.

    Publish a new manifest by writing a temporary file and renaming it over the old one
    (``os.replace``): a reader then sees either the old or the new file, never half of one.
    A file rewritten in place while it is read is refused (its identity changed during the
    read) and read again at the next load.

    Args:
        path: the file's path.
        max_bytes: refuse files larger than this.
        timeout: seconds allowed for one whole load (open, read, parse).
    """

    errors = FILE_ERRORS
    compressed_hint = "manifest files are read as they are: gunzip it"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.path = Path(path)
        self.location = str(path)
        self.max_bytes = max_bytes
        self.timeout = timeout
        self._identity: Identity | None = None
        self._stuck: tuple[threading.Thread, float] | None = None

    def _detail(self, exc: BaseException) -> str:
        if isinstance(exc, OSError) and exc.strerror:
            return exc.strerror
        return super()._detail(exc)

    async def load(self) -> Manifest:
        if self._stuck is not None:
            thread, since = self._stuck
            if thread.is_alive():
                raise self._fail(
                    f"cannot be read: a read started {time.monotonic() - since:.0f} s ago has "
                    "not returned (a hung network mount?); loads resume once it does"
                )
            self._stuck = None
        known = self._identity if self._manifest is not None else None
        future, thread = _start_in_daemon_thread(
            lambda: self._read(known), name=f"quart-cdn read {self.location[-40:]}"
        )
        started = time.monotonic()
        try:
            with anyio.fail_after(self.timeout):
                read = await future
                if read is None:
                    assert self._manifest is not None
                    return self._manifest
                identity, data = read
                manifest = await self._accept(data)
        except ManifestError:
            raise
        except BaseException as exc:
            if not future.done() or future.cancelled():
                self._stuck = (thread, started)  # cut short: the thread lives on
            if isinstance(exc, Exception):
                raise self._translate(exc) from exc
            raise
        self._identity = identity
        return manifest

    def _read(self, known: Identity | None) -> tuple[Identity, bytes] | None:
        """Blocking: ``None`` when the file is still ``known``, else its identity and bytes."""
        try:
            fd = os.open(self.path, _OPEN_FLAGS)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # a unix socket cannot be opened at all
                self._refuse_kind(os.stat(self.path))
            raise
        try:
            st = os.fstat(fd)
            self._refuse_kind(st)
            identity = _identity(st)
            if identity == known:
                return None
            if st.st_size > self.max_bytes:
                raise self._too_big()
            chunks, total = [], 0
            while total <= self.max_bytes:
                chunk = os.read(fd, min(_READ_SIZE, self.max_bytes + 1 - total))
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
            if total > self.max_bytes:
                raise self._too_big()
            # Size and mtime only: the file's ctime also moves when a rename replaces it.
            if _identity(os.fstat(fd))[:4] != identity[:4]:
                raise self._fail(
                    "was changed while it was read (rewritten in place?); publish a manifest "
                    "by renaming a complete file over it"
                )
            return identity, b"".join(chunks)
        finally:
            os.close(fd)

    def _refuse_kind(self, st: os.stat_result) -> None:
        for test, kind in _KINDS:
            if test(st.st_mode):
                raise self._fail(f"is {kind}, not a regular file; refusing to read it")

    @classmethod
    def from_location(
        cls, location: str, *, timeout: float, max_bytes: int, setting: str
    ) -> FileManifestSource:
        """A plain path, or a ``file://`` URL on this host."""
        if "://" not in location:
            return cls(location, max_bytes=max_bytes, timeout=timeout)
        parts = urlsplit(location)
        if parts.netloc not in ("", "localhost"):
            raise ValueError(
                f"{setting} {cut(location, 200)} names a remote host in a file:// URL; "
                "use file:///absolute/path or a plain path"
            )
        return cls(url2pathname(unquote(parts.path)), max_bytes=max_bytes, timeout=timeout)
