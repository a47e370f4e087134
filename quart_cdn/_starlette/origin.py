"""Starlette's ``StaticFiles`` mounts as the CDN's origin: the glue between a mount and the
framework-free rules of :mod:`quart_cdn._origin`.

Applied by :meth:`StarletteCDN.lifespan <quart_cdn.starlette.StarletteCDN.lifespan>` to each
``StaticFiles`` mounted under a name in ``endpoints``: the instance's ``lookup_path`` (run in
a worker thread by Starlette) also reads a file's digests when a checksum manifest needs
them, its ``file_response`` sends the variant the request accepts with the origin's
headers, and its ``get_response`` answers a CORS preflight and marks a 404.
"""

from __future__ import annotations

import mimetypes
import os
import stat
from collections.abc import Iterator, Sequence
from typing import Any, Final

from starlette._utils import get_route_path
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Host, Mount
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import Scope

from .._core import CDNCore
from .._origin import Origin, apply_answer

__all__ = ["serve_mounts"]

#: How many middleware layers around a mounted ``StaticFiles`` are looked through.
_MAX_WRAPPERS: Final = 16


def serve_mounts(app: Any, core: CDNCore, origin: Origin) -> None:
    """Serve the ``StaticFiles`` mounts of ``app`` that ``core`` counts as CDN endpoints
    by the origin rules (once per mount, however often the lifespan runs)."""
    if origin.enabled:
        for name, static in _static_mounts(getattr(app, "routes", [])):
            if core.is_cdn(name):
                _serve_by_origin(static, origin)


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
    """Serve ``static`` by the origin rules: its responses get their caching, CORS and
    precompressed variant from ``origin``. Applied to the instance."""
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
