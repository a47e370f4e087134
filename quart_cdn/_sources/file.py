"""Manifests in local files (``/path/manifest.json``, ``file:///path``), read with aiofiles."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import aiofiles
import aiofiles.os
import anyio
import anyio.to_thread

from .._config import DEFAULT_MAX_BYTES
from .._manifest import Manifest, parse_manifest_async
from .base import ManifestSource

__all__ = ["FileManifestSource"]


class FileManifestSource(ManifestSource):
    """A manifest in a local file, read with aiofiles.

    Publish a new manifest by writing a temporary file and renaming it over the old one
    (``os.replace``): a reader then sees either the old or the new file, never half of one.

    Args:
        path: the file's path.
        max_bytes: refuse files larger than this.
    """

    def __init__(self, path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path = Path(path)
        self.location = str(path)
        self.max_bytes = max_bytes
        self._identity: tuple[int, int, int, int] | None = None
        self._manifest: Manifest | None = None

    async def load(self) -> Manifest:
        try:
            st = await aiofiles.os.stat(self.path)
            if stat.S_ISDIR(st.st_mode):
                raise self._fail("is a directory, not a file")
            if self._manifest is not None and _identity(st) == self._identity:
                return self._manifest
            async with aiofiles.open(self.path, "rb") as f:
                # The identity of what was opened, not of whatever the path names by now.
                opened = await anyio.to_thread.run_sync(os.fstat, f.fileno())
                data = await f.read(self.max_bytes + 1)
        except FileNotFoundError as exc:
            raise self._fail("does not exist") from exc
        except PermissionError as exc:
            raise self._fail("cannot be read: permission denied") from exc
        except IsADirectoryError as exc:
            raise self._fail("is a directory, not a file") from exc
        except OSError as exc:
            raise self._fail(f"cannot be read: {exc.strerror or exc}") from exc
        except ValueError as exc:  # a NUL byte in the path
            raise self._fail(f"is not a valid path: {exc}") from exc
        if len(data) > self.max_bytes:
            raise self._too_big()
        manifest = await parse_manifest_async(data, source=self.location, cdn=self.cdn)
        self._identity, self._manifest = _identity(opened), manifest
        return manifest

    @classmethod
    def from_location(
        cls, location: str, *, timeout: float, max_bytes: int, setting: str
    ) -> FileManifestSource:
        """A plain path, or a ``file://`` URL on this host."""
        if "://" not in location:
            return cls(location, max_bytes=max_bytes)
        parts = urlsplit(location)
        if parts.netloc not in ("", "localhost"):
            raise ValueError(
                f"{setting} {location!r} names a remote host in a file:// URL; "
                "use file:///absolute/path or a plain path"
            )
        return cls(url2pathname(unquote(parts.path)), max_bytes=max_bytes)


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
