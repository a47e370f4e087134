"""Where one Quart app's CDN state lives: its :class:`~quart_cdn._core.CDNCore` and the Quart
glue around it (the map adapter, static folders, the request's pin), and the warm
``url_for`` lookup that the app's templates and :func:`quart_cdn.url_for` call."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable
from typing import Any

from quart import Quart
from quart.wrappers import BaseRequestWebsocket
from werkzeug.routing import BuildError

from .._cache import Snapshot, cache_key
from .._config import CDNConfig
from .._core import CDNCore
from .._manifest import Manifest
from .._sources import ManifestSource
from .._urls import path_only
from . import request_context_var, request_of
from .entries import QuartEntries
from .origin import QuartOrigin

__all__ = ["AppState", "Pin", "make_url_for"]

_STATE_NUMBERS = itertools.count()
_Lookup = Callable[[str, dict[str, Any]], str]


class Pin:
    """What a request's CDN URLs are built from, fixed at its first one: the snapshot (the
    manifest and its URLs, so that a page never mixes two manifests), the request's default
    scheme and root path, and the snapshot's view of the URLs for those two."""

    __slots__ = ("entries", "root", "scheme", "snapshot", "urls")

    def __init__(self, snapshot: Snapshot, scheme: str, root: str) -> None:
        self.snapshot = snapshot
        self.scheme = scheme
        self.root = root
        self.urls = snapshot.view(scheme, root)
        self.entries = snapshot.entry_view(scheme, root)


class AppState:
    """Where one app's CDN state lives: its :class:`CDNCore` and the Quart glue around it
    (the map adapter, static folders, the request pin). Replaced whole by ``init_app``."""

    __slots__ = (
        "active",
        "adapter",
        "app",
        "core",
        "entries",
        "folders",
        "follow_debug",
        "lookup",
        "origin",
        "pin_key",
        "source",
        "url_for",
    )

    def __init__(
        self,
        app: Quart,
        config: CDNConfig,
        *,
        source: ManifestSource | None = None,
        follow_debug: bool = False,
    ) -> None:
        self.app = app
        self.source = source
        # CDN_DEBUG was not set: it follows app.debug, read again when the app starts
        # serving (`quart run --debug` sets the flag after init_app has run).
        self.follow_debug = follow_debug
        core = CDNCore(config, source=source, base_dir=app.root_path)
        self.core = core
        self.active = core.config.active
        # Only the path of what it builds is used; the CDN host is put in front of it.
        self.adapter = app.url_map.bind("localhost")
        self.folders: dict[str, str | None] = {}
        # The attribute of a request context that holds this state's pin.
        number = next(_STATE_NUMBERS)
        self.pin_key = f"_quart_cdn_pin_{number}"
        #: The app's template global, and the lookup that it and :func:`url_for` call.
        self.lookup, self.url_for = make_url_for(self)
        #: entry_tags() and entry_assets(), and the app's entry_tags template global.
        self.entries = QuartEntries(self, number)
        #: The app's static routes as the CDN's origin.
        self.origin = QuartOrigin(self)

    def folder(self, endpoint: str) -> str | None:
        """The static folder behind ``endpoint``: the app's or a (nested) blueprint's."""
        try:
            return self.folders[endpoint]
        except KeyError:
            pass
        app, folder = self.app, None
        if endpoint == "static":
            folder = app.static_folder if app.has_static_folder else None
        else:
            name, _, last = endpoint.rpartition(".")
            blueprint = app.blueprints.get(name)
            if last == "static" and blueprint is not None and blueprint.has_static_folder:
                folder = blueprint.static_folder
        self.folders[endpoint] = folder = None if folder is None else str(folder)
        return folder

    def _scheme(self, request: BaseRequestWebsocket | None) -> str:
        """The scheme of a CDN URL when the call does not give ``_scheme``."""
        return self.core.scheme(
            request.scheme if request is not None else None,
            prefer_secure=self.app.config["PREFER_SECURE_URLS"],
        )

    def _pin(self, rctx: Any, request: BaseRequestWebsocket) -> Pin:
        """The request's pin, made at its first CDN URL."""
        pin: Pin | None = rctx.__dict__.get(self.pin_key)
        if pin is None:
            new = Pin(self.core.snapshot, self._scheme(request), request.root_path)
            # The threads of a request share its context object; setdefault is atomic.
            pin = rctx.__dict__.setdefault(self.pin_key, new)
        return pin

    def build(self, endpoint: str, values: dict[str, Any], rctx: Any) -> str:
        """Every call that the hot path in :func:`_make_url_for` does not answer; ``rctx``
        is what :data:`~quart_cdn._quart.request_context_var` holds."""
        request, pinnable = request_of(rctx)
        if endpoint[:1] == ".":
            blueprint = request.blueprint if request is not None else None
            endpoint = blueprint + endpoint if blueprint else endpoint[1:]
        core = self.core
        if not core.is_cdn(endpoint):
            # What quart.url_for gives: it calls the current app's url_for, which is ours.
            return self.app.url_for(endpoint, **values)

        pin = None
        if pinnable and request is not None and rctx.app is self.app:
            pin = self._pin(rctx, request)
        scheme = values.pop("_scheme", None)
        values.pop("_external", None)  # a CDN URL is always absolute
        view = None
        if pin is not None:
            # Pinned for the request, so that a page never mixes two manifests.
            snapshot, root = pin.snapshot, pin.root
            if scheme is None:
                scheme, view = pin.scheme, pin.urls
        else:
            snapshot = core.snapshot
            root = request.root_path if request is not None else ""
            scheme = self._scheme(request) if scheme is None else scheme
        filename = values.get("filename")
        key: Hashable | None
        if view is not None and len(values) == 1 and type(filename) is str:
            key = (endpoint, filename)  # the view's short key, which the hot path looks up
        else:
            view, key = None, cache_key(endpoint, values, "filename", scheme, root)
        return core.cached(
            snapshot,
            key,
            view,
            lambda: self._build(endpoint, values, scheme, root, snapshot.manifest),
        )

    def _build(
        self,
        endpoint: str,
        values: dict[str, Any],
        scheme: str,
        root: str,
        manifest: Manifest | None,
    ) -> tuple[str, bool]:
        app, adapter = self.app, self.adapter
        anchor = values.pop("_anchor", None)
        method = values.pop("_method", None)
        # url_defaults functions may read per-request state, so their URLs are not cached.
        cacheable = not app.url_default_functions
        if not cacheable:
            app.inject_url_defaults(endpoint, values)
        try:
            path = path_only(adapter.build(endpoint, values, method=method))
        except BuildError as error:
            return app.handle_url_build_error(error, endpoint, values), False

        def rebuild(hashed: str) -> str:
            return path_only(adapter.build(endpoint, {**values, "filename": hashed}, method=method))

        filename = values.get("filename")
        url = self.core.join(
            manifest,
            path,
            rebuild,
            filename=filename if isinstance(filename, str) else None,
            folder=self.folder(endpoint),
            scheme=scheme,
            prefix=root,
            anchor=anchor,
        )
        return url, cacheable


def make_url_for(state: AppState) -> tuple[_Lookup, Callable[..., str]]:
    """The CDN-aware ``url_for`` of one app: ``lookup(endpoint, values)``, which
    :func:`url_for` calls, and the app's template global, a shell around it.

    A page calls it dozens of times, so the common call (``filename=`` only, in a request
    whose pin has the URL) is answered in ``lookup``'s one frame; everything else goes to
    :meth:`AppState.build`, or to the app's own ``url_for`` (what plain Quart installs)
    when the CDN is off.
    """

    pin_key = state.pin_key

    def lookup(endpoint: str, values: dict[str, Any]) -> str:
        rctx = request_context_var.get(None)
        if rctx is not None and len(values) == 1 and "filename" in values:
            pin: Pin | None = rctx.__dict__.get(pin_key)
            if pin is not None:
                try:
                    url = pin.urls.get((endpoint, values["filename"]))
                except TypeError:  # an unhashable filename
                    url = None
                if url is not None:
                    return url
        if state.active:
            return state.build(endpoint, values, rctx)
        return state.app.url_for(endpoint, **values)

    def url_for(endpoint: str, **values: Any) -> str:
        return lookup(endpoint, values)

    return lookup, url_for
