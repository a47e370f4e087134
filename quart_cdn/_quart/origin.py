"""Quart's static routes as the CDN's origin: the glue between a Quart app and the
framework-free rules of :mod:`quart_cdn._origin`.

The static view of every CDN endpoint that has a static folder (the app's ``static``, a
blueprint's ``<bp>.static``, also one registered after ``init_app``) is replaced, at its
first request, by one that sends the variant the request accepts through Quart's own
``send_file`` (so ETags, ``Last-Modified``, 304s and ranges are Quart's); the header changes
are applied in ``after_request``, which sees error responses (a 404) too. A CORS preflight
is answered in ``before_request``. While the CDN is off, the original view runs.
"""

from __future__ import annotations

import contextlib
import mimetypes
import os
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from zlib import adler32

import anyio.to_thread
import quart
from quart.globals import _cv_app
from quart.helpers import send_file
from quart.wrappers import Request, Response
from werkzeug.datastructures import Headers
from werkzeug.exceptions import NotFound
from werkzeug.security import safe_join

from .._origin import Answer, Origin, Variant, apply_answer
from . import STATE_KEY, request_context_var

if TYPE_CHECKING:
    from .state import AppState

__all__ = ["QuartOrigin"]

#: The attribute that marks a replaced view (and holds the original).
_ORIGINAL: Final = "_quart_cdn_original"
#: Where a request keeps the header changes for ``after_request``.
_ANSWER_KEY: Final = "_quart_cdn_answer"


class QuartOrigin:
    """One app's static routes as the CDN's origin (see the module docstring)."""

    __slots__ = ("origin", "state")

    def __init__(self, state: AppState) -> None:
        self.state = state
        #: The rules, for this app's settings and manifest.
        self.origin = Origin(state.core)

    def before_request(self) -> Response | None:
        """Serve a CDN static route by the rules (from its first request on), and answer a
        CORS preflight."""
        if not self.origin.enabled:
            return None
        state, request = self.state, _request()
        endpoint = request.endpoint
        if endpoint is None or not state.core.is_cdn(endpoint) or state.folder(endpoint) is None:
            return None
        view = state.app.view_functions.get(endpoint)
        if view is not None and not hasattr(view, _ORIGINAL):
            state.app.view_functions[endpoint] = _origin_view(endpoint, view)
        if request.method == "OPTIONS" and self.origin.cors is not None:
            requested = request.headers.get("Access-Control-Request-Headers")
            headers = Headers(self.origin.preflight_headers(requested))
            return state.app.response_class("", 204, headers)
        return None

    async def serve(self, endpoint: str, filename: str) -> Response:
        """A static file of ``endpoint``, sent as Quart sends it, by the rules."""
        request, origin = _request(), self.origin
        folder = self.state.folder(endpoint)
        assert folder is not None
        path = safe_join(folder, filename)
        found: os.stat_result | None = None
        if path is not None:
            with contextlib.suppress(OSError, ValueError):
                found = os.stat(path)
        if path is None or found is None or not stat.S_ISREG(found.st_mode):
            _keep(origin.missing(request.query_string))
            raise NotFound()
        if origin.needs_digest(path, found):  # once per version of the file
            await anyio.to_thread.run_sync(origin.digest, path, found)
        variant, answer = origin.decide(
            url_key=request.path.lstrip("/"),
            filename=filename,
            folder=folder,
            query=request.query_string,
            path=path,
            stat=found,
            accept_encoding=request.headers.get("Accept-Encoding"),
        )
        mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        try:
            if answer.cache_control is None:  # the framework's caching: its own send_file
                response = await send_file(variant.path, mimetype=mimetype, conditional=True)
            else:
                response = await _send(request, variant.path, found, variant, mimetype)
        except FileNotFoundError:  # a sibling removed since it was found: the plain file
            origin.forget(path)
            response = await send_file(path, mimetype=mimetype, conditional=True)
            answer = origin.answer(answer.cache_control, origin.variant(path, found, None))
        _keep(answer)
        return response

    @staticmethod
    def after_request(response: Response) -> Response:
        """Apply the header changes kept by :meth:`serve` (a 404's included)."""
        rctx = request_context_var.get(None)
        answer: Answer | None = rctx.__dict__.get(_ANSWER_KEY) if rctx is not None else None
        if answer is not None:
            apply_answer(response.headers, answer)
        return response


def _origin_view(endpoint: str, original: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """The view that replaces a CDN static route's: the rules while the CDN is on, else
    the original (the state is looked up per call: ``init_app`` may run again)."""

    async def view(filename: str) -> Any:
        app = _cv_app.get().app
        state: AppState | None = app.extensions.get(STATE_KEY)
        if state is None or not state.origin.origin.enabled:
            return await app.ensure_async(original)(filename=filename)
        return await state.origin.serve(endpoint, filename)

    setattr(view, _ORIGINAL, original)
    return view


async def _send(
    request: Request, path: str, plain: os.stat_result, variant: Variant, mimetype: str
) -> Response:
    """What Quart's ``send_file(path, conditional=True)`` sends (the same ETag, 304s and
    ranges), without its caching headers, which the answer replaces anyway, and from the
    stat already made (a sibling's is checked again: it may be gone)."""
    found = plain if variant.encoding is None else os.stat(path)
    app = _cv_app.get().app
    response: Response = app.response_class(
        app.response_class.file_body_class(Path(path)), mimetype=mimetype
    )
    response.content_length = found.st_size
    response.last_modified = found.st_mtime  # type: ignore[assignment]
    response.set_etag(f"{found.st_mtime}-{found.st_size}-{adler32(bytes(Path(path)))}")
    await response.make_conditional(request, accept_ranges=True, complete_length=found.st_size)
    return response


def _request() -> Request:
    # The object behind the proxy, once: each attribute read through it costs a lookup.
    request: Request = quart.request._get_current_object()  # type: ignore[attr-defined]
    return request


def _keep(answer: Answer) -> None:
    request_context_var.get().__dict__[_ANSWER_KEY] = answer
