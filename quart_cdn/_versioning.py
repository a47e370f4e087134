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

from ._cache import MAX_CACHE_BYTES, Budget
from ._config import CDNConfig
from ._log import LogLimiter, cut
from ._manifest import Manifest
from .exceptions import ManifestNotLoadedError, NotInManifestError

__all__ = ["Versioner", "safe_join"]

logger = logging.getLogger("quart_cdn")


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

    def mtime(self, folder: str, filename: str, *, warn: bool = True) -> int | None:
        """``int(mtime)`` of ``folder/filename``: read once, then cached (a miss too); a
        missing file is warned about once, unless ``warn`` is false."""
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
        if value is None and warn:
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
                if filename and (listed := self._listed(manifest, url_key, filename)):
                    # An already hashed file: its own URL, no version.
                    return (None if listed == filename else listed), None
                # A file the bundler copied without listing it (Vite's public/, robots.txt)
                # takes the timestamp rule, without a word; a checksum manifest lists every
                # file it versions, so there the miss stands.
                if not folder or not filename or self.mtime(folder, filename, warn=False) is None:
                    self._miss(url_key)
        if config.timestamp and folder is not None and filename:
            mtime = self.mtime(folder, filename)
            if mtime is not None:
                return None, f"t={mtime}"
        return None, None

    @staticmethod
    def _hashed(manifest: Manifest, url_key: str, filename: str | None) -> str | None:
        """The hashed name of ``filename``, relative to the endpoint's folder.

        The key may be written with the endpoint's URL path in front (``static/js/app.js``),
        and a value may carry it too, as a bundler's public path (``/static/app.1a2b.js``:
        webpack's ``publicPath: '/static/'``, Encore): it is taken off, never doubled.
        """
        if not filename:
            return None
        hashed: str | None = manifest.get(url_key)
        if hashed is None:
            hashed = manifest.get(filename)
            if hashed is None:
                return None
        prefix = url_key[: len(url_key) - len(filename)] if url_key.endswith(filename) else ""
        return hashed[len(prefix) :] if prefix and hashed.startswith(prefix) else hashed

    @staticmethod
    def _listed(manifest: Manifest, url_key: str, filename: str) -> str | None:
        """``filename`` as the file it is, when the manifest lists it as a file it made
        (a value, an entry's CSS or chunk): ``filename`` itself, or, when it was written with
        the endpoint's URL path in front (an Encore or ``publicPath: '/static/'`` file), the
        name below that path. ``None`` when the manifest does not list it."""
        prefix = url_key[: len(url_key) - len(filename)] if url_key.endswith(filename) else ""
        if prefix and filename.startswith(prefix) and manifest.lists(filename):
            return filename[len(prefix) :]
        if manifest.lists(filename) or manifest.lists(url_key):
            return filename
        return None

    def _miss(self, url_key: str) -> None:
        if self.config.manifest_strict:
            raise NotInManifestError(url_key)
        self.warn_once(
            ("missing", url_key),
            "%r is not in the manifest; falling back to an unversioned or timestamped URL",
            url_key,
        )
