"""Which version a static URL carries, shared by the Quart and Starlette adapters.

A :class:`Versioner` owns, for one app, the manifest refresher (when ``manifest`` is on),
the cache of file modification times, the once-per-file warnings, and the cache of finished
URLs. The URL cache lives in a :class:`Snapshot` together with the manifest it was built
from; a new manifest brings a new snapshot, swapped in by one assignment, so a reader that
took a snapshot sees one manifest and the URLs made from it, never a mix.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Hashable, Mapping
from typing import Any, Final

from ._config import CDNConfig, quart_key
from ._manifest import Manifest
from ._refresh import ManifestRefresher, RefresherState
from ._sources import ManifestSource, source_for
from .exceptions import ManifestNotLoadedError, NotInManifestError

__all__ = ["Snapshot", "Versioner", "values_key"]

logger = logging.getLogger("quart_cdn")

#: Caps that keep hostile or runaway input (user-chosen file names) from growing memory.
MAX_CACHED_URLS: Final = 50_000
MAX_VIEWS: Final = 100
MAX_CACHED_MTIMES: Final = 100_000
MAX_WARNINGS: Final = 10_000


class Snapshot:
    """A manifest (or ``None``) and the URLs already built from it.

    ``cache`` takes any key that holds everything a URL depends on. A view holds the URLs
    of one scheme and root path by ``(endpoint, filename)`` alone: a smaller key for the
    Quart adapter's hot path, whose request pins its scheme and root path to a view.
    """

    __slots__ = ("cache", "manifest", "stored", "views")

    def __init__(self, manifest: Manifest | None) -> None:
        self.manifest = manifest
        self.cache: dict[Hashable, str] = {}
        self.views: dict[tuple[str, str], dict[Hashable, str]] = {}
        self.stored = 0

    def view(self, scheme: str, root: str) -> dict[Hashable, str]:
        """The view of ``scheme`` and ``root``; past MAX_VIEWS, a new one that is not kept."""
        view = self.views.get((scheme, root))
        if view is None:
            view = {}
            if len(self.views) < MAX_VIEWS:  # root paths can come from request headers
                view = self.views.setdefault((scheme, root), view)
        return view

    def store(self, key: Hashable, url: str, view: dict[Hashable, str] | None = None) -> None:
        """Keep ``url`` under ``key`` in ``cache`` (or in ``view``), up to MAX_CACHED_URLS."""
        if self.stored < MAX_CACHED_URLS:
            self.stored += 1
            (self.cache if view is None else view)[key] = url


#: Value types whose equal values build equal URLs once the type is in the key.
_KEYABLE: Final = frozenset({str, int, float, bool, type(None)})


def values_key(values: Mapping[str, Any]) -> tuple[tuple[str, type, Any], ...] | None:
    """The part of a URL cache key for a call's values, or ``None`` for "do not cache".

    Equal values of other types build other URLs (``x=0`` gives ``x=0``, ``x=False`` gives
    ``x=False``, yet ``0 == False``), so each value's type is in the key; a container could
    hide such a pair, so calls with one are not cached.
    """
    items = []
    for name, value in sorted(values.items()):
        kind = type(value)
        if kind not in _KEYABLE:
            return None
        items.append((name, kind, value))
    return tuple(items)


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
        source: the manifest source; by default the one ``config.manifest_url`` names.
        key: turns a setting's name into what the user wrote (``CDN_MANIFEST_URL`` for
            Quart, ``manifest_url=`` for Starlette), for messages.
    """

    def __init__(
        self,
        config: CDNConfig,
        *,
        source: ManifestSource | None = None,
        key: Callable[[str], str] = quart_key,
    ) -> None:
        self.config = config
        self.key = key
        self.refresher: ManifestRefresher | None = None
        if config.manifest:
            assert config.manifest_url is not None
            self.refresher = ManifestRefresher(
                source
                or source_for(
                    config.manifest_url,
                    timeout=config.manifest_timeout,
                    max_bytes=config.manifest_max_bytes,
                    setting=key("manifest_url"),
                    max_bytes_setting=key("manifest_max_bytes"),
                ),
                interval=config.manifest_refresh,
                strict=config.manifest_strict,
                on_swap=self._swap,
            )
        self.snapshot = Snapshot(None)
        self._mtimes: dict[tuple[str, str], int | None] = {}
        self._warned: set[Hashable] = set()

    def _swap(self, manifest: Manifest) -> None:
        self.snapshot = Snapshot(manifest)

    @property
    def manifest(self) -> Manifest | None:
        return self.refresher.manifest if self.refresher is not None else None

    @property
    def running(self) -> bool:
        return self.refresher is not None and self.refresher.state is RefresherState.RUNNING

    async def start(self) -> None:
        # With the CDN off (debug, no domain) no URL reads the manifest: don't load it, so
        # a development app starts without one. cdn.refresh() still loads it on request.
        if self.refresher is not None and self.config.active:
            await self.refresher.start()

    async def stop(self) -> None:
        if self.refresher is not None:
            await self.refresher.stop()

    async def refresh(self) -> Manifest:
        if self.refresher is None:
            raise RuntimeError(f"There is no manifest to refresh: {self.key('manifest')} is off")
        return await self.refresher.refresh()

    def warn_once(self, key: Hashable, message: str, *args: object) -> None:
        if key not in self._warned:
            if len(self._warned) < MAX_WARNINGS:
                self._warned.add(key)
            logger.warning(message, *args)

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
        if len(self._mtimes) < MAX_CACHED_MTIMES:
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
                    "No manifest loaded yet; %s falls back to an unversioned or timestamped URL",
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

    def _miss(self, url_key: str) -> None:
        if self.config.manifest_strict:
            raise NotInManifestError(url_key)
        self.warn_once(
            ("missing", url_key),
            "%s is not in the manifest; falling back to an unversioned or timestamped URL",
            url_key,
        )
