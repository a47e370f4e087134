"""The framework-free core of one app: settings, manifest, URL cache and the URL build.

Both adapters hold one :class:`CDNCore` per app and delegate to it; what they add is only
where state lives (``app.extensions``, the ``StarletteCDN`` object), how a request is read,
how a path is built (Werkzeug's map adapter, Starlette's router) and the lifecycle hooks.
A cache miss, in either framework, goes through :meth:`CDNCore.cached` and
:meth:`CDNCore.join`, so there is one cache key, one version rule and one URL join.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable
from typing import Final
from urllib.parse import unquote

from ._cache import Snapshot
from ._config import CDNConfig, quart_key
from ._entries.builder import Entries
from ._manifest import Manifest
from ._refresh import ManifestRefresher, RefresherState
from ._sources import ManifestSource, source_for
from ._urls import REQUEST_SCHEMES, add_query, cdn_url
from ._versioning import Versioner
from .exceptions import UsageError

__all__ = ["CDNCore"]

#: How many distinct endpoint names are remembered as CDN or not (names come from code).
MAX_ENDPOINTS: Final = 10_000


class CDNCore:
    """Everything one app needs to build CDN URLs and keep its manifest current.

    Args:
        config: the validated settings.
        source: the manifest source; by default the one ``config.manifest_url`` names.
        key: turns a setting's name into what the user wrote (``CDN_MANIFEST_URL`` for
            Quart, ``manifest_url=`` for Starlette), for messages.
        separator: what joins a mount or blueprint name to an endpoint (``.`` or ``:``).
        base_dir: the folder a relative manifest path is read from (the Quart app's root
            path); ``None``: the current directory.
    """

    def __init__(
        self,
        config: CDNConfig,
        *,
        source: ManifestSource | None = None,
        key: Callable[[str], str] = quart_key,
        separator: str = ".",
        base_dir: str | None = None,
    ) -> None:
        self.config = config
        self.key = key
        self.separator = separator
        self.versioner = Versioner(config)
        #: Front-end entries: entry_tags() and entry_assets() of both adapters.
        self.entries = Entries(config, self.versioner, key)
        self.refresher: ManifestRefresher | None = None
        if config.manifest:
            if source is None:
                assert config.manifest_url is not None
                location = config.manifest_url
                if base_dir is not None and "://" not in location:
                    location = os.path.join(base_dir, location)  # absolute paths stay
                source = source_for(
                    location,
                    timeout=config.manifest_timeout,
                    max_bytes=config.manifest_max_bytes,
                    setting=key("manifest_url"),
                    max_bytes_setting=key("manifest_max_bytes"),
                )
            source.cdn = config.domain.lower() if config.domain else None
            self.refresher = ManifestRefresher(
                source,
                interval=config.manifest_refresh,
                strict=config.manifest_strict,
                on_swap=self._swap,
            )
        #: The manifest in force and the URLs built from it; replaced whole on each swap.
        self.snapshot = Snapshot(None)
        self._is_cdn: dict[str, bool] = {}

    # -- the manifest ---------------------------------------------------------------------

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
        # With a dev server, entries come from it and no manifest is loaded either.
        if self.refresher is not None and self.config.active and not self.config.dev_server:
            await self.refresher.start()

    async def stop(self) -> None:
        if self.refresher is not None:
            await self.refresher.stop()

    async def refresh(self) -> Manifest:
        if self.refresher is None:
            raise UsageError(
                f"There is no manifest to refresh: {self.key('manifest')} is off; turn it on "
                f"and set {self.key('manifest_url')}"
            )
        return await self.refresher.refresh()

    # -- URLs -----------------------------------------------------------------------------

    def is_cdn(self, endpoint: str) -> bool:
        """Whether ``endpoint`` is served from the CDN (remembered per name)."""
        is_cdn = self._is_cdn.get(endpoint)
        if is_cdn is None:
            is_cdn = self.config.serves(endpoint, self.separator)
            if len(self._is_cdn) < MAX_ENDPOINTS:
                self._is_cdn[endpoint] = is_cdn
        return is_cdn

    def scheme(self, request_scheme: str | None, *, prefer_secure: bool = False) -> str:
        """The scheme of a CDN URL when the call gives none: ``https`` setting, else the
        request's, else ``https`` only when ``prefer_secure``."""
        https = self.config.https
        if https is not None:
            return "https" if https else "http"
        if request_scheme is not None:
            return REQUEST_SCHEMES.get(request_scheme, "http")
        return "https" if prefer_secure else "http"

    @staticmethod
    def cached(
        snapshot: Snapshot,
        key: Hashable | None,
        view: dict[Hashable, str] | None,
        build: Callable[[], tuple[str, bool]],
    ) -> str:
        """The URL under ``key`` in ``snapshot`` (or ``view``); else ``build()``'s, kept
        when it says it may be."""
        if key is not None:
            try:
                return (snapshot.cache if view is None else view)[key]
            except KeyError:
                pass
        url, cacheable = build()
        if cacheable and key is not None:
            snapshot.store(key, url, view)
        return url

    def join(
        self,
        manifest: Manifest | None,
        path: str,
        rebuild: Callable[[str], str],
        *,
        filename: str | None,
        folder: str | None,
        scheme: str,
        prefix: str = "",
        anchor: str | None = None,
    ) -> str:
        """The CDN URL of a static file, from the path the router built for it.

        Args:
            manifest: the manifest of the snapshot the URL is for.
            path: the router's path (and query) for the call, without ``prefix``.
            rebuild: builds the path again for another file name (a hashed one).
            filename: the endpoint's file name value, if any.
            folder: the endpoint's static folder, for the timestamp rule.
            scheme: ``http``, ``https`` or ``''`` (protocol-relative).
            prefix: the app's root path, put before ``path``.
            anchor: ``_anchor``, quoted as Quart does.

        Raises:
            ManifestNotLoadedError: strict, and no manifest has been loaded yet.
            NotInManifestError: strict, and the file is not in the manifest.
            ValueError: ``scheme`` is none of the three.
        """
        url_key = unquote(path.partition("?")[0]).lstrip("/")
        hashed, version = self.versioner.version(manifest, url_key, filename, folder)
        if hashed is not None:
            path = rebuild(hashed)
        if version is not None:
            path = add_query(path, version)
        domain = self.config.domain
        assert domain is not None
        return cdn_url(scheme, domain, prefix + path, anchor)
