"""The Quart extension: :class:`CDN` and the CDN-aware :func:`url_for`."""

from __future__ import annotations

import weakref
from dataclasses import replace
from typing import Any

import quart
from quart import Quart
from quart.globals import _cv_app
from quart.wrappers import Response

from ._config import DEFAULTS, CDNConfig, quart_key
from ._manifest import Manifest
from ._quart import STATE_KEY
from ._quart.entries import entry_assets, entry_tags
from ._quart.state import AppState
from ._sources import ManifestSource
from .exceptions import UsageError

__all__ = ["CDN", "entry_assets", "entry_tags", "url_for"]


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
        state: AppState | None = ctx.app.extensions.get(STATE_KEY)
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
        old: AppState | None = app.extensions.get(STATE_KEY)
        if old is not None and old.core.running:
            raise UsageError(
                "CDN.init_app() was called again while the app is serving, which would orphan "
                "its manifest refresh task; call init_app before the app starts serving"
            )
        self._install(app, AppState(app, config, source=source, follow_debug=follow_debug))
        if old is None:
            app.before_serving(self._before_serving)
            app.after_serving(self._after_serving)
            app.before_request(self._before_request)
            app.after_request(self._after_request)

    def _install(self, app: Quart, state: AppState) -> None:
        app.extensions[STATE_KEY] = state
        app.extensions["cdn"] = self
        self._apps.add(app)
        app.jinja_env.globals["url_for"] = state.url_for
        app.jinja_env.globals["entry_tags"] = state.entries.template_global

    @staticmethod
    def _current_state() -> AppState:
        state: AppState = quart.current_app.extensions[STATE_KEY]
        return state

    async def _before_serving(self) -> None:
        state = self._current_state()
        app, config = state.app, state.core.config
        if state.follow_debug and app.debug != config.debug:
            app.config[quart_key("debug")] = app.debug
            state = AppState(
                app, replace(config, debug=app.debug), source=state.source, follow_debug=True
            )
            self._install(app, state)
        await state.core.start()

    async def _after_serving(self) -> None:
        await self._current_state().core.stop()

    async def _before_request(self) -> Response | None:
        state: AppState = _cv_app.get().app.extensions[STATE_KEY]
        return state.origin.before_request()

    async def _after_request(self, response: Response) -> Response:
        state = self._current_state()
        return state.origin.after_request(state.entries.add_links(response))

    def _state(self) -> AppState | None:
        ctx = _cv_app.get(None)
        if ctx is not None and ctx.app in self._apps:
            state: AppState = ctx.app.extensions[STATE_KEY]
            return state
        apps = list(self._apps)
        if len(apps) == 1:
            only: AppState = apps[0].extensions[STATE_KEY]
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
