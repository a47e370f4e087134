"""Where the Quart adapter finds the current request, whatever the Quart version.

Quart up to 0.22 keeps a request context of its own (``_cv_request``) beside the app
context; Quart 0.23 (Python 3.13 and later) has one context that holds the app and, in a
request or a websocket, that too. The extension keeps a request's pin on the object that
:data:`request_context_var` holds, and asks :func:`request_of` for the request.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

import quart.globals as _globals
from quart.wrappers import BaseRequestWebsocket

__all__ = ["STATE_KEY", "request_context_var", "request_of"]

#: Where an app keeps its per-app state (``app.extensions["cdn"]`` is the CDN object).
STATE_KEY = "quart_cdn.state"

#: True with Quart 0.22 and earlier: a separate request context.
SPLIT_CONTEXTS = hasattr(_globals, "_cv_request")

#: The context variable whose object carries a request's pin (``__dict__`` of the
#: request context, or of the one context of Quart 0.23).
request_context_var: ContextVar[Any] = (
    getattr(_globals, "_cv_request") if SPLIT_CONTEXTS else _globals._cv_app  # noqa: B009
)


def request_of(ctx: Any) -> tuple[BaseRequestWebsocket | None, bool]:
    """The request (or websocket) of ``ctx`` (what :data:`request_context_var` held, or
    ``None``), and whether it is an HTTP request, whose URLs may be pinned."""
    if SPLIT_CONTEXTS:
        if ctx is not None:
            return ctx.request_websocket, True
        wctx = getattr(_globals, "_cv_websocket").get(None)  # noqa: B009
        return (wctx.request_websocket if wctx is not None else None), False
    if ctx is None:
        return None, False
    return ctx._request_websocket, ctx._request is not None
