"""Which version a static URL carries: a manifest's checksum or hashed name, or the mtime.

A :class:`Versioner` holds, for one app, the rule (manifest, then timestamp), the cache of
file modification times and the once-per-file warnings. It is given the manifest of the
snapshot a URL is built for, and never loads one itself: :mod:`quart_cdn._core` does. The
mtimes and the warned names are each bounded by a :class:`~quart_cdn._cache.Budget` of
bytes, and the warnings go through a :class:`~quart_cdn._log.LogLimiter`.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Hashable
from typing import Final

from ._cache import MAX_CACHE_BYTES, Budget
from ._config import CDNConfig
from ._log import LogLimiter, cut
from ._manifest import Manifest
from .exceptions import ManifestNotLoadedError, NotInManifestError

__all__ = ["Versioner", "safe_join"]

logger = logging.getLogger("quart_cdn")

#: How many manifests' sets of listed files are kept (the one in force, the one before).
MAX_NAME_SETS: Final = 2


def safe_join(folder: str, filename: str) -> str | None:
    """``folder/filename``, or ``None`` when ``filename`` could leave ``folder``."""
    if not filename or filename.startswith("/") or "\\" in filename or "\x00" in filename:
        return None
    parts = [part for part in filename.split("/") if part not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return os.path.join(folder, *parts)


class Versioner:
    """Decides the version of static URLs for one app.

    Args:
        config: the validated settings.
        max_bytes: the estimated bytes that the mtime cache, and the set of warned names,
            may each hold (see :class:`~quart_cdn._cache.Budget`).
    """

    def __init__(self, config: CDNConfig, *, max_bytes: int = MAX_CACHE_BYTES) -> None:
        self.config = config
        self._mtimes: dict[tuple[str, str], int | None] = {}
        self._mtimes_budget = Budget(max_bytes)
        self._warned: set[Hashable] = set()
        self._warned_budget = Budget(max_bytes)
        self._log = LogLimiter(logger)
        # The files each recent manifest lists, by id (the manifest is held, so its id is
        # not reused while it is here); built at the first miss that needs them.
        self._names: dict[int, tuple[Manifest, frozenset[str]]] = {}

    def warn_once(self, key: Hashable, message: str, *args: object) -> None:
        """Log the warning ``message % args`` once per ``key``.

        Each ``str`` in ``args`` is cut by :func:`~quart_cdn._log.cut` first (``%r`` then
        quotes the cut value). Once the set of warned keys is full, a key is no longer
        remembered, and the limiter's rules (an identical message once a minute, a hundred
        records a minute) still bound what is logged.
        """
        if key in self._warned:
            return
        if self._warned_budget.take(key):
            self._warned.add(key)
        cut_args = tuple(cut(arg) if isinstance(arg, str) else arg for arg in args)
        self._log.log(logging.WARNING, message, *cut_args)

    def mtime(self, folder: str, filename: str) -> int | None:
        """``int(mtime)`` of ``folder/filename``: read once, then cached (a miss too)."""
        key = (folder, filename)
        try:
            return self._mtimes[key]
        except KeyError:
            pass
        path = safe_join(folder, filename)
        value: int | None = None
        if path is not None:
            with contextlib.suppress(OSError):
                value = int(os.stat(path).st_mtime)
        if value is None:
            self.warn_once(
                ("mtime", folder, filename),
                "Static file %r not found in %r; its CDN URL gets no t= version",
                filename,
                folder,
            )
        if self._mtimes_budget.take(key, value):
            self._mtimes[key] = value
        return value

    def version(
        self,
        manifest: Manifest | None,
        url_key: str,
        filename: str | None,
        folder: str | None,
    ) -> tuple[str | None, str | None]:
        """The version of one static URL: ``(hashed filename, query item)``, either or both
        ``None``.

        Args:
            manifest: the manifest of the snapshot the URL is built for.
            url_key: the URL path without its leading ``/`` (``static/js/app.js``).
            filename: the endpoint's ``filename`` value, if any.
            folder: the endpoint's static folder, if any, for the timestamp rule.

        Raises:
            ManifestNotLoadedError: strict, and no manifest has been loaded yet.
            NotInManifestError: strict, and the file is not in the manifest.
        """
        config = self.config
        if config.manifest:
            if manifest is None:
                if config.manifest_strict:
                    raise ManifestNotLoadedError(
                        f"No manifest has been loaded yet from {config.manifest_url!r}; start "
                        "the app (before_serving / lifespan) or await cdn.refresh() first",
                        source=config.manifest_url,
                    )
                self.warn_once(
                    ("unloaded", url_key),
                    "No manifest loaded yet; %r falls back to an unversioned or timestamped URL",
                    url_key,
                )
            elif manifest.kind == "checksum":
                checksum = manifest.get(url_key)
                if checksum is not None:
                    return None, f"c={checksum}"
                self._miss(url_key)
            else:
                hashed = self._hashed(manifest, url_key, filename)
                if hashed is not None:
                    return hashed, None
                if filename and self._lists(manifest, url_key, filename):
                    return None, None  # an already hashed file: its own URL, no version
                self._miss(url_key)
        if config.timestamp and folder is not None and filename:
            mtime = self.mtime(folder, filename)
            if mtime is not None:
                return None, f"t={mtime}"
        return None, None

    @staticmethod
    def _hashed(manifest: Manifest, url_key: str, filename: str | None) -> str | None:
        if not filename:
            return None
        # The key may be written with the endpoint's URL path in front ("static/js/app.js"),
        # and then its value may be too; the result is always relative to the folder.
        hashed: str | None = manifest.get(url_key)
        if hashed is not None and url_key.endswith(filename):
            prefix = url_key[: len(url_key) - len(filename)]
            return hashed[len(prefix) :] if prefix and hashed.startswith(prefix) else hashed
        return manifest.get(filename)  # type: ignore[no-any-return]

    def _lists(self, manifest: Manifest, url_key: str, filename: str) -> bool:
        """Whether ``manifest`` lists ``filename`` (or ``url_key``) as a file it made: a
        mapping's value, or a file of its entries (a Vite chunk's CSS, an entrypoint's JS)."""
        names = self._names.get(id(manifest))
        if names is None or names[0] is not manifest:
            files = set(manifest.values())
            graph = manifest.entries
            for chunk in graph.chunks.values():
                files.add(chunk.file)
                files.update(chunk.css, chunk.assets)
            for entrypoint in graph.entrypoints.values():
                files.update(entrypoint.js, entrypoint.css)
            files.update(graph.integrity)
            if len(self._names) >= MAX_NAME_SETS:  # the oldest manifests go first
                del self._names[next(iter(self._names))]
            names = self._names[id(manifest)] = (manifest, frozenset(files))
        return filename in names[1] or url_key in names[1]

    def _miss(self, url_key: str) -> None:
        if self.config.manifest_strict:
            raise NotInManifestError(url_key)
        self.warn_once(
            ("missing", url_key),
            "%r is not in the manifest; falling back to an unversioned or timestamped URL",
            url_key,
        )
