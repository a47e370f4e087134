"""The Starlette (and FastAPI) adapter: :class:`StarletteCDN`.

It shares the core with the Quart extension: the same settings checks
(:class:`~quart_cdn._config.CDNConfig`), the same :class:`~quart_cdn._versioning.Versioner`
(manifest refresher, mtime cache, URL cache) and the same URL joining. Only the glue is
Starlette's: paths come from the router, the lifecycle from the lifespan, and ``url_for``
is replaced in a :class:`~starlette.templating.Jinja2Templates` environment.

Needs the ``starlette`` extra: ``pip install 'quart-cdn[starlette]'``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from types import TracebackType
from typing import Any, Final

try:
    from jinja2 import pass_context
    from jinja2.runtime import Context
    from markupsafe import Markup
    from starlette.datastructures import URL, URLPath
    from starlette.requests import Request
    from starlette.routing import BaseRoute, Host, Mount
    from starlette.staticfiles import StaticFiles
    from starlette.templating import Jinja2Templates
except ImportError as exc:  # pragma: no cover - exercised by a test that hides starlette
    raise ImportError(
        f"quart_cdn.starlette needs Starlette and Jinja2 ({exc.name or exc} is missing): "
        "pip install 'quart-cdn[starlette]'"
    ) from exc

from ._cache import Snapshot, cache_key
from ._config import DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT, CDNConfig
from ._core import CDNCore
from ._manifest import Manifest
from ._origin import Origin
from ._sources import ManifestSource
from ._starlette.entries import StarletteEntries
from ._starlette.origin import serve_mounts

__all__ = ["StarletteCDN"]

#: How many middleware layers around a mounted ``StaticFiles`` are looked through.
_MAX_WRAPPERS: Final = 16


def _key(name: str) -> str:
    return f"{name}="


def _static_files(routes: Sequence[BaseRoute], name: str) -> StaticFiles | None:
    """The ``StaticFiles`` mounted as ``name`` (``admin:static`` in nested mounts).

    Walks the routes the way ``Mount.url_path_for`` resolves names, so the directory found
    is the one behind the URL the router builds.
    """
    for route in routes:
        if not isinstance(route, (Mount, Host)):
            continue
        if route.name == name and isinstance(route, Mount):
            app: object = route.app
            for _ in range(_MAX_WRAPPERS):  # look through middleware wrapping the mount
                if isinstance(app, StaticFiles):
                    return app
                app = getattr(app, "app", None)
            continue
        if route.name is None:
            rest = name
        elif name.startswith(route.name + ":"):
            rest = name[len(route.name) + 1 :]
        else:
            continue
        found = _static_files(route.routes, rest)
        if found is not None:
            return found
    return None


class StarletteCDN(StarletteEntries):
    """Serve a Starlette or FastAPI app's static files from a CDN.

    The keyword arguments mirror the Quart ``CDN_*`` keys, lower-cased and without the
    prefix, with the same defaults (``debug`` is ``False``). They are checked here, so a bad
    value fails at construction with a ``ValueError`` naming the keyword (``manifest_url=``).

    Args:
        domain: ``host[:port][/path-prefix]`` of the CDN; falsy: no URL is changed.
        https: ``True``/``False`` force the scheme; ``None``: the request's scheme.
        debug: ``True``: every URL is exactly Starlette's own.
        timestamp: append ``t=<mtime>`` read from the mounted ``StaticFiles`` directory.
        endpoints: route names served from the CDN; ``x`` matches ``x`` and ``<mount>:x``.
        manifest: version URLs from the manifest at ``manifest_url`` (wins over timestamps).
        manifest_url: an ``http(s)://`` or ``file://`` URL, or a path.
        manifest_refresh: seconds between background reloads; ``None`` or ``0``: load once.
        manifest_timeout: seconds allowed for one fetch.
        manifest_strict: fail loudly on a missing manifest or entry, else fall back.
        manifest_max_bytes: refuse manifests larger than this.
        crossorigin: the ``crossorigin`` of entry tags that carry ``integrity``
            (``"anonymous"``, ``"use-credentials"``, ``None``: none).
        dev_server: the URL of Vite's dev server (with Vite's ``base`` as its path:
            ``http://localhost:5173/static``); entries then come from it, no manifest is
            loaded.
        dev_server_react: add React Refresh's preamble before the dev server's client.
        preload_headers: add ``Link`` preload headers for what ``entry_tags`` emitted to
            responses made with the installed templates' ``TemplateResponse``.
        origin_cache: answer the ``StaticFiles`` mounts in ``endpoints`` with
            ``immutable`` for the current version and ``no-store`` for any other.
        cors: ``Access-Control-Allow-Origin`` on those mounts' responses (``"*"`` or one
            origin); ``None``: none.
        precompressed: serve a ``.br``/``.gz`` sibling that the request accepts.
        source: a manifest source of your own (a :class:`~quart_cdn.ManifestSource`), used
            instead of the one ``manifest_url`` names; ``manifest`` must be on.

    Example::

        templates = Jinja2Templates(directory="templates")
        cdn = StarletteCDN(domain="mycdnname.cloudfront.net")
        cdn.install(templates)
        app = Starlette(
            routes=[Mount("/static", StaticFiles(directory="static"), name="static")],
            lifespan=cdn.lifespan,
        )
        # {{ url_for('static', path='css/app.css') }}
        # -> http://mycdnname.cloudfront.net/static/css/app.css?t=1700000000
    """

    def __init__(
        self,
        *,
        domain: str | None = None,
        https: bool | None = None,
        debug: bool = False,
        timestamp: bool = True,
        endpoints: Iterable[str] = ("static",),
        manifest: bool = False,
        manifest_url: str | None = None,
        manifest_refresh: float | None = None,
        manifest_timeout: float = DEFAULT_TIMEOUT,
        manifest_strict: bool = True,
        manifest_max_bytes: int = DEFAULT_MAX_BYTES,
        crossorigin: str | None = "anonymous",
        dev_server: str | None = None,
        dev_server_react: bool = False,
        preload_headers: bool = True,
        origin_cache: bool = True,
        cors: str | None = "*",
        precompressed: bool = True,
        source: ManifestSource | None = None,
    ) -> None:
        self.config = CDNConfig.from_settings(
            {
                "domain": domain,
                "https": https,
                "debug": debug,
                "timestamp": timestamp,
                "endpoints": endpoints,
                "manifest": manifest,
                "manifest_url": manifest_url,
                "manifest_refresh": manifest_refresh,
                "manifest_timeout": manifest_timeout,
                "manifest_strict": manifest_strict,
                "manifest_max_bytes": manifest_max_bytes,
                "crossorigin": crossorigin,
                "dev_server": dev_server,
                "dev_server_react": dev_server_react,
                "preload_headers": preload_headers,
                "origin_cache": origin_cache,
                "cors": cors,
                "precompressed": precompressed,
            },
            key=_key,
            has_source=source is not None,
        )
        self.core = CDNCore(self.config, source=source, key=_key, separator=":")
        #: How the app's static mounts answer as the CDN's origin (``_origin``).
        self.origin = Origin(self.core)
        self._folders: dict[tuple[int, str], str | None] = {}
        self._routers: dict[int, object] = {}
        self._app: Any = None
        self._pin_key = f"quart_cdn.pin.{id(self)}"
        self._links_key = f"quart_cdn.links.{id(self)}"
        self._dev_key = f"quart_cdn.dev.{id(self)}"

    # -- lifecycle ------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        """The app's lifespan: ``Starlette(lifespan=cdn.lifespan)``.

        Loads the manifest at startup (when ``manifest`` is on), runs the refresh task while
        the app serves, and cancels it at shutdown. Inside a lifespan of your own, use
        ``async with cdn:`` instead.

        Raises:
            ManifestError: strict mode and the manifest could not be loaded at startup.
        """
        self._app = app
        serve_mounts(app, self.core, self.origin)
        async with self:
            yield

    async def __aenter__(self) -> StarletteCDN:
        await self.core.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.core.stop()

    @property
    def manifest(self) -> Manifest | None:
        """The manifest in force, or ``None``."""
        return self.core.manifest

    async def refresh(self) -> Manifest:
        """Load the manifest now, swap it in at once and return it.

        Raises:
            ManifestError: it could not be loaded or parsed (the message names the source
                and the cause); the previous manifest stays in force.
            UsageError: ``manifest`` is off.
        """
        return await self.core.refresh()

    # -- templates ------------------------------------------------------------------------

    def install(self, templates: Jinja2Templates) -> None:
        """Install the CDN-aware ``url_for`` and ``entry_tags`` in ``templates.env.globals``,
        and make ``templates.TemplateResponse`` add the ``Link`` preload headers.

        ``url_for('static', path='css/app.css')`` then gives the CDN URL; every other name
        goes to the ``url_for`` that was there before (Starlette's own).
        ``entry_tags('src/main.ts', nonce=...)`` gives an entry's tags (see
        :meth:`entry_tags`); the template's context must hold the ``request``.
        """
        found = templates.env.globals.get("url_for")
        previous: Callable[..., Any] | None = found if callable(found) else None

        @pass_context
        def url_for(context: Context, name: str, /, **path_params: Any) -> URL:
            if self.config.active and self.core.is_cdn(name):
                built = self._url_for(context.get("request"), name, path_params)
                if built is not None:
                    return URL(built)
            if previous is not None:
                return previous(context, name, **path_params)  # type: ignore[no-any-return]
            return context["request"].url_for(name, **path_params)  # type: ignore[no-any-return]

        @pass_context
        def entry_tags(context: Context, /, *names: str, **attrs: Any) -> Markup:
            return self.entry_tags(context.get("request"), *names, **attrs)

        templates.env.globals["url_for"] = url_for
        templates.env.globals["entry_tags"] = entry_tags
        self._wrap_template_response(templates)

    def _pinned(self, request: Request | None) -> tuple[Snapshot, str, str]:
        """The request's snapshot (pinned at its first CDN URL), scheme and root path."""
        if request is None:
            return self.core.snapshot, self.core.scheme(None), ""
        scope = request.scope
        snapshot: Snapshot | None = scope.get(self._pin_key)
        if snapshot is None:
            # The request keeps the snapshot of its first CDN URL, so that a page never
            # mixes two manifests (setdefault is atomic for threads sharing the scope).
            snapshot = scope.setdefault(self._pin_key, self.core.snapshot)
        root: str = scope.get("app_root_path", scope.get("root_path", ""))
        return snapshot, self.core.scheme(scope.get("scheme", "http")), root

    def _url_for(self, request: Request | None, name: str, params: dict[str, Any]) -> str | None:
        """The CDN URL, or ``None`` when there is neither a request nor a started app."""
        if request is not None:
            scope = request.scope
            provider = scope.get("router") or scope.get("app")
        elif self._app is not None:  # rendering outside a request (an email, a job)
            provider = self._app
        else:
            return None
        snapshot, scheme, root = self._pinned(request)

        # The router is part of the key: one StarletteCDN may serve an app reached both
        # directly and through an outer app's Mount. Routers are unhashable, so use the id
        # and hold the router, so that its id is never reused.
        router = id(provider)
        if router not in self._routers:
            self._routers[router] = provider
        key = cache_key(name, params, "path", scheme, root, router)
        # request.url_for puts the router's path below request.base_url, the app's root path.
        base = request.base_url.path.rstrip("/") if request is not None else ""
        return self.core.cached(
            snapshot,
            key,
            None,
            lambda: (self._build(provider, name, params, scheme, base, snapshot.manifest), True),
        )

    def _build(
        self,
        provider: Any,
        name: str,
        params: dict[str, Any],
        scheme: str,
        base: str,
        manifest: Manifest | None,
    ) -> str:
        url_path: URLPath = provider.url_path_for(name, **params)
        filename = params.get("path")
        return self.core.join(
            manifest,
            str(url_path),
            lambda hashed: str(provider.url_path_for(name, **{**params, "path": hashed})),
            # Mount.url_path_for strips a leading "/" from path=, so the file is the same.
            filename=filename.lstrip("/") if isinstance(filename, str) else None,
            folder=self._folder(provider, name),
            scheme=scheme,
            prefix=base,
        )

    def _folder(self, provider: Any, name: str) -> str | None:
        try:
            return self._folders[id(provider), name]
        except KeyError:
            pass
        static = _static_files(getattr(provider, "routes", []), name)
        directory = static.directory if static is not None else None
        self._folders[id(provider), name] = folder = None if directory is None else str(directory)
        return folder
