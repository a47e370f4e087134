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
import mimetypes
import os
import stat
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from types import TracebackType
from typing import Any, Final

try:
    from jinja2 import pass_context
    from jinja2.runtime import Context
    from starlette._utils import get_route_path
    from starlette.datastructures import URL, Headers, MutableHeaders, URLPath
    from starlette.exceptions import HTTPException
    from starlette.responses import FileResponse, Response
    from starlette.routing import BaseRoute, Host, Mount
    from starlette.staticfiles import NotModifiedResponse, StaticFiles
    from starlette.templating import Jinja2Templates
    from starlette.types import Scope
except ImportError as exc:  # pragma: no cover - exercised by a test that hides starlette
    raise ImportError(
        f"quart_cdn.starlette needs Starlette and Jinja2 ({exc.name or exc} is missing): "
        "pip install 'quart-cdn[starlette]'"
    ) from exc

from ._cache import Snapshot, cache_key
from ._config import DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT, CDNConfig
from ._core import CDNCore
from ._manifest import Manifest
from ._origin import Origin, apply_answer
from ._sources import ManifestSource

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


def _static_mounts(
    routes: Sequence[BaseRoute], prefix: str = ""
) -> Iterator[tuple[str, StaticFiles]]:
    """Every ``StaticFiles`` mounted under a name, with its full name (``admin:static``)."""
    for route in routes:
        if isinstance(route, Mount) and route.name is not None:
            app: object = route.app
            for _ in range(_MAX_WRAPPERS):
                if isinstance(app, StaticFiles):
                    yield prefix + route.name, app
                    break
                app = getattr(app, "app", None)
        if isinstance(route, (Mount, Host)) and not isinstance(route.app, StaticFiles):
            inner = prefix + route.name + ":" if route.name else prefix
            yield from _static_mounts(route.routes, inner)


def _serve_by_origin(static: StaticFiles, origin: Origin) -> None:
    """Serve ``static`` by the origin rules (``_origin.py``): its responses get their
    caching, CORS and precompressed variant from ``origin``. Applied to the instance."""
    if getattr(static, "_quart_cdn_origin", None) is origin:
        return
    get_response = type(static).get_response.__get__(static)
    lookup_path = type(static).lookup_path.__get__(static)
    folder = None if static.directory is None else os.fspath(static.directory)

    async def origin_get_response(path: str, scope: Scope) -> Response:
        if scope["method"] == "OPTIONS" and origin.cors is not None:
            requested = Headers(scope=scope).get("access-control-request-headers")
            preflight = Response(status_code=204)
            for name, value in origin.preflight_headers(requested):
                preflight.headers.append(name, value)
            return preflight
        try:
            response: Response = await get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != 404:
                raise
            headers = MutableHeaders(headers=exc.headers)
            apply_answer(headers, origin.missing(scope.get("query_string", b"")))
            raise HTTPException(404, exc.detail, dict(headers)) from None
        if response.status_code == 404:  # html=True's 404.html
            apply_answer(response.headers, origin.missing(scope.get("query_string", b"")))
        return response

    def origin_file_response(
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        request_headers = Headers(scope=scope)
        plain = os.fspath(full_path)
        root: str = scope.get("app_root_path", "")
        url_path: str = scope["path"]
        variant, answer = origin.decide(
            url_key=url_path.removeprefix(root).lstrip("/"),
            filename=get_route_path(scope).lstrip("/"),
            folder=folder,
            query=scope.get("query_string", b""),
            path=plain,
            stat=stat_result,
            accept_encoding=request_headers.get("accept-encoding"),
        )
        fields = answer.fields
        if variant.encoding is not None:
            fields = {**fields, "etag": variant.etag()}
        response: Response = FileResponse(
            variant.path,
            status_code=status_code,
            stat_result=variant.stat,
            media_type=mimetypes.guess_type(plain)[0] or "application/octet-stream",
            headers=fields,
        )
        if static.is_not_modified(response.headers, request_headers):
            response = NotModifiedResponse(response.headers)
            apply_answer(response.headers, answer)
        return response

    def origin_lookup_path(path: str) -> tuple[str, os.stat_result | None]:
        # Starlette runs this in a worker thread: the place to read a file's digests.
        full_path, found = lookup_path(path)
        if (
            found is not None
            and stat.S_ISREG(found.st_mode)
            and origin.needs_digest(full_path, found)
        ):
            origin.digest(full_path, found)
        return full_path, found

    static.lookup_path = origin_lookup_path  # type: ignore[method-assign]
    static.get_response = origin_get_response  # type: ignore[method-assign]
    static.file_response = origin_file_response  # type: ignore[method-assign]
    static._quart_cdn_origin = origin  # type: ignore[attr-defined]


class StarletteCDN:
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
                "origin_cache": origin_cache,
                "cors": cors,
                "precompressed": precompressed,
            },
            key=_key,
            has_source=source is not None,
        )
        self.core = CDNCore(self.config, source=source, key=_key, separator=":")
        self.origin = Origin(self.core)
        self._folders: dict[tuple[int, str], str | None] = {}
        self._routers: dict[int, object] = {}
        self._app: Any = None
        self._pin_key = f"quart_cdn.pin.{id(self)}"

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
        if self.origin.enabled:
            for name, static in _static_mounts(getattr(app, "routes", [])):
                if self.core.is_cdn(name):
                    _serve_by_origin(static, self.origin)
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
        """Replace ``url_for`` in ``templates.env.globals`` with the CDN-aware one.

        ``url_for('static', path='css/app.css')`` then gives the CDN URL; every other name
        goes to the ``url_for`` that was there before (Starlette's own).
        """
        found = templates.env.globals.get("url_for")
        previous: Callable[..., Any] | None = found if callable(found) else None

        @pass_context
        def url_for(context: Context, name: str, /, **path_params: Any) -> URL:
            if self.config.active and self.core.is_cdn(name):
                built = self._url_for(context, name, path_params)
                if built is not None:
                    return URL(built)
            if previous is not None:
                return previous(context, name, **path_params)  # type: ignore[no-any-return]
            return context["request"].url_for(name, **path_params)  # type: ignore[no-any-return]

        templates.env.globals["url_for"] = url_for

    def _url_for(self, context: Context, name: str, params: dict[str, Any]) -> str | None:
        """The CDN URL, or ``None`` when there is neither a request nor a started app."""
        request = context.get("request")
        if request is not None:
            scope = request.scope
            provider = scope.get("router") or scope.get("app")
            root: str = scope.get("app_root_path", scope.get("root_path", ""))
            scheme: str | None = scope.get("scheme", "http")
        elif self._app is not None:  # rendering outside a request (an email, a job)
            provider, root, scheme = self._app, "", None
        else:
            return None
        scheme = self.core.scheme(scheme)

        # The router is part of the key: one StarletteCDN may serve an app reached both
        # directly and through an outer app's Mount. Routers are unhashable, so use the id
        # and hold the router, so that its id is never reused.
        router = id(provider)
        if router not in self._routers:
            self._routers[router] = provider
        key = cache_key(name, params, "path", scheme, root, router)
        snapshot: Snapshot
        if request is not None:
            # The request keeps the snapshot of its first CDN URL, so that a page never
            # mixes two manifests (setdefault is atomic for threads sharing the scope).
            snapshot = request.scope.get(self._pin_key)
            if snapshot is None:
                snapshot = request.scope.setdefault(self._pin_key, self.core.snapshot)
        else:
            snapshot = self.core.snapshot
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
