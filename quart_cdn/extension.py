"""The Quart extension: :class:`CDN` and the CDN-aware :func:`url_for`."""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable, Hashable
from dataclasses import replace
from typing import Any

import quart
from quart import Quart
from quart.globals import _cv_app
from quart.wrappers import BaseRequestWebsocket, Response
from werkzeug.routing import BuildError

from ._cache import Snapshot, cache_key
from ._config import DEFAULTS, CDNConfig, quart_key
from ._core import CDNCore
from ._manifest import Manifest
from ._quart import STATE_KEY, request_context_var, request_of
from ._quart_entries import QuartEntries, entry_assets, entry_tags
from ._sources import ManifestSource
from ._urls import path_only
from .exceptions import UsageError

__all__ = ["CDN", "entry_assets", "entry_tags", "url_for"]

_STATE_NUMBERS = itertools.count()
_Lookup = Callable[[str, dict[str, Any]], str]


class _Pin:
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


class _AppState:
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
        self.lookup, self.url_for = _make_url_for(self)
        #: entry_tags() and entry_assets(), and the app's entry_tags template global.
        self.entries = QuartEntries(self, number)

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

    def _pin(self, rctx: Any, request: BaseRequestWebsocket) -> _Pin:
        """The request's pin, made at its first CDN URL."""
        pin: _Pin | None = rctx.__dict__.get(self.pin_key)
        if pin is None:
            new = _Pin(self.core.snapshot, self._scheme(request), request.root_path)
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


def _make_url_for(state: _AppState) -> tuple[_Lookup, Callable[..., str]]:
    """The CDN-aware ``url_for`` of one app: ``lookup(endpoint, values)``, which
    :func:`url_for` calls, and the app's template global, a shell around it.

    A page calls it dozens of times, so the common call (``filename=`` only, in a request
    whose pin has the URL) is answered in ``lookup``'s one frame; everything else goes to
    :meth:`_AppState.build`, or to the app's own ``url_for`` (what plain Quart installs)
    when the CDN is off.
    """

    pin_key = state.pin_key

    def lookup(endpoint: str, values: dict[str, Any]) -> str:
        rctx = request_context_var.get(None)
        if rctx is not None and len(values) == 1 and "filename" in values:
            pin: _Pin | None = rctx.__dict__.get(pin_key)
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


def url_for(endpoint: str, **values: Any) -> str:
    """Build a URL like ``quart.url_for``, from the CDN for the CDN endpoints.

    For an endpoint in ``CDN_ENDPOINTS`` (``static`` and every ``<blueprint>.static`` by
    default) the URL is ``{scheme}://{CDN_DOMAIN}{path}``, versioned by the manifest or the
    file's modification time; every other endpoint, and every endpoint when the CDN is off
    (``CDN_DEBUG``, no ``CDN_DOMAIN``), gets exactly what ``quart.url_for`` gives. It is
    synchronous and, once warm, touches neither the file system nor the network.

    Args:
        endpoint: the endpoint name, ``.static`` for the current blueprint's.
        values: the rule's values (``filename=``), extra query values, and Quart's
            ``_scheme`` (``''`` gives ``//host/...``), ``_anchor``, ``_method``,
            ``_external`` (ignored for CDN URLs, which are always absolute).

    Raises:
        ManifestError: strict manifest mode and no manifest has been loaded yet.
        NotInManifestError: strict manifest mode and the file is not in the manifest.

    Example::

        url_for("static", filename="css/app.css")
        # 'https://cdn.example.com/static/css/app.css?t=1700000000'
    """
    ctx = _cv_app.get(None)
    if ctx is not None:
        state: _AppState | None = ctx.app.extensions.get(STATE_KEY)
        if state is not None and state.active:
            return state.lookup(endpoint, values)
    return quart.url_for(endpoint, **values)


class CDN:
    """Serve a Quart app's static files from a CDN.

    Use it directly or as a factory::

        app = Quart(__name__)
        app.config["CDN_DOMAIN"] = "mycdnname.cloudfront.net"
        cdn = CDN(app)

        cdn = CDN()
        def create_app() -> Quart:
            app = Quart(__name__)
            cdn.init_app(app)
            return app

    One ``CDN`` object can serve several apps; each keeps its own settings and manifest.

    Args:
        app: the app to initialise now, or ``None`` to call :meth:`init_app` later.
        source: a manifest source of your own (a :class:`~quart_cdn.ManifestSource`), used
            instead of the one ``CDN_MANIFEST_URL`` names; ``CDN_MANIFEST`` must be on.
    """

    def __init__(self, app: Quart | None = None, *, source: ManifestSource | None = None) -> None:
        self._apps: weakref.WeakSet[Quart] = weakref.WeakSet()
        if app is not None:
            self.init_app(app, source=source)

    def init_app(self, app: Quart, *, source: ManifestSource | None = None) -> None:
        """Read the ``CDN_*`` settings of ``app`` (setting the defaults) and hook it up.

        Installs :func:`url_for` as the ``url_for`` of the app's templates, loads the
        manifest when the app starts serving and stops the refresh task when it stops.
        Calling it again re-reads the settings.

        Args:
            app: the app.
            source: a manifest source of your own for this app (see :class:`CDN`).

        Raises:
            ValueError: a setting is invalid; the message names its key.
            UsageError: the app is already serving.
        """
        follow_debug = quart_key("debug") not in app.config
        for name, default in DEFAULTS.items():
            if name == "debug":
                default = app.debug
            elif name == "endpoints":
                default = list(default)
            app.config.setdefault(quart_key(name), default)
        config = CDNConfig.from_settings(
            {name: app.config[quart_key(name)] for name in DEFAULTS},
            debug_default=app.debug,
            has_source=source is not None,
        )
        old: _AppState | None = app.extensions.get(STATE_KEY)
        if old is not None and old.core.running:
            raise UsageError(
                "CDN.init_app() was called again while the app is serving, which would orphan "
                "its manifest refresh task; call init_app before the app starts serving"
            )
        self._install(app, _AppState(app, config, source=source, follow_debug=follow_debug))
        if old is None:
            app.before_serving(self._before_serving)
            app.after_serving(self._after_serving)
            app.after_request(self._after_request)

    def _install(self, app: Quart, state: _AppState) -> None:
        app.extensions[STATE_KEY] = state
        app.extensions["cdn"] = self
        self._apps.add(app)
        app.jinja_env.globals["url_for"] = state.url_for
        app.jinja_env.globals["entry_tags"] = state.entries.template_global

    @staticmethod
    def _current_state() -> _AppState:
        state: _AppState = quart.current_app.extensions[STATE_KEY]
        return state

    async def _before_serving(self) -> None:
        state = self._current_state()
        app, config = state.app, state.core.config
        if state.follow_debug and app.debug != config.debug:
            app.config[quart_key("debug")] = app.debug
            state = _AppState(
                app, replace(config, debug=app.debug), source=state.source, follow_debug=True
            )
            self._install(app, state)
        await state.core.start()

    async def _after_serving(self) -> None:
        await self._current_state().core.stop()

    async def _after_request(self, response: Response) -> Response:
        return self._current_state().entries.add_links(response)

    def _state(self) -> _AppState | None:
        ctx = _cv_app.get(None)
        if ctx is not None and ctx.app in self._apps:
            state: _AppState = ctx.app.extensions[STATE_KEY]
            return state
        apps = list(self._apps)
        if len(apps) == 1:
            only: _AppState = apps[0].extensions[STATE_KEY]
            return only
        return None

    @property
    def manifest(self) -> Manifest | None:
        """The manifest in force for the current app (or the only app), else ``None``."""
        state = self._state()
        return state.core.manifest if state is not None else None

    async def refresh(self) -> Manifest:
        """Load the manifest now, swap it in at once and return it.

        Call it inside an app context, or when this object serves exactly one app.

        Raises:
            ManifestError: the manifest could not be loaded or parsed (the message names the
                source and the cause); the previous manifest stays in force.
            UsageError: no app to refresh for, or ``CDN_MANIFEST`` is off.
        """
        state = self._state()
        if state is None:
            raise UsageError(
                "cdn.refresh() needs an app context when this CDN serves several apps "
                "(or none yet): use 'async with app.app_context():'"
            )
        return await state.core.refresh()
