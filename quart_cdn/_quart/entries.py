"""The Quart side of front-end entries: :func:`entry_tags`, :func:`entry_assets` and the
``Link`` preload header.

Each app's :class:`QuartEntries` gives the shared :class:`~quart_cdn._entries.builder.Entries`
what only Quart knows: the request's pin (its snapshot, scheme and root path, so that a
page's tags come from the manifest its ``url_for`` URLs come from), the URL of a static file
as the app's ``url_for`` builds it, and where a request keeps what its tags emitted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from markupsafe import Markup
from quart.globals import _cv_app
from quart.wrappers import Response

from .._cache import Snapshot
from .._entries.tags import EntryAssets, Rendered, cap_links
from ..exceptions import UsageError
from . import STATE_KEY, request_context_var, request_of

if TYPE_CHECKING:
    from .state import AppState, Pin

__all__ = ["QuartEntries", "entry_assets", "entry_tags"]


class QuartEntries:
    """One app's entries (see the module docstring)."""

    __slots__ = ("dev_key", "links_key", "state", "template_global")

    def __init__(self, state: AppState, number: int) -> None:
        self.state = state
        # Where a request keeps the Link values its entry_tags() calls emitted, and whether
        # the dev server's client is already on its page.
        self.links_key = f"_quart_cdn_links_{number}"
        self.dev_key = f"_quart_cdn_dev_{number}"
        #: ``entry_tags`` of the app's templates.
        self.template_global = self._make_global()

    def _make_global(self) -> Callable[..., Markup]:
        """The warm call (a request whose pin has the tags) is answered in this frame."""
        pin_key, links_key, render = self.state.pin_key, self.links_key, self.render
        config = self.state.core.config

        def entry_tags(*names: str, **attrs: Any) -> Markup:
            rctx = request_context_var.get(None)
            if rctx is not None and "crossorigin" not in attrs:
                pin: Pin | None = rctx.__dict__.get(pin_key)
                if pin is not None:
                    try:
                        rendered = pin.entries.get(names)
                    except TypeError:  # an unhashable name: the slow path says what is wrong
                        rendered = None
                    if rendered is not None:
                        if rendered.links and config.preload_headers:
                            links = rctx.__dict__.get(links_key)
                            if links is None:
                                links = rctx.__dict__[links_key] = []
                            links.append(rendered.links)
                        return rendered.markup(attrs)
            return render(names, attrs, rctx)

        return entry_tags

    def _page(self, rctx: Any) -> tuple[Any, Snapshot, dict[tuple[str, ...], Rendered] | None]:
        """The request context of an HTTP request (else ``None``), the snapshot its tags
        come from (its pin's) and its cache of rendered tags."""
        state = self.state
        request, pinnable = request_of(rctx)
        if pinnable and request is not None and rctx.app is state.app:
            pin = state._pin(rctx, request)
            return rctx, pin.snapshot, pin.entries
        return None, state.core.snapshot, None

    def _url(self, rctx: Any) -> Callable[[str], str]:
        state = self.state
        if state.active:
            return lambda filename: state.build("static", {"filename": filename}, rctx)
        return lambda filename: state.app.url_for("static", filename=filename)

    def render(self, names: tuple[str, ...], attrs: dict[str, Any], rctx: Any) -> Markup:
        """Every ``entry_tags`` call that the template global's hot path does not answer."""
        core = self.state.core
        page, snapshot, cache = self._page(rctx)
        if core.config.dev_server:
            first = page is None or not page.__dict__.get(self.dev_key)
            if page is not None:  # the client once per page
                page.__dict__[self.dev_key] = True
            return core.entries.dev_tags(names, attrs, first=first)
        rendered = core.entries.rendered(snapshot, names, cache, self._url(rctx))
        rendered, rest = rendered.adjust(attrs)
        if page is not None and core.config.preload_headers and rendered.links:
            page.__dict__.setdefault(self.links_key, []).append(rendered.links)
        return rendered.markup(rest)

    def assets(self, name: str) -> EntryAssets:
        core = self.state.core
        if core.config.dev_server:
            return core.entries.dev_assets(name)
        rctx = request_context_var.get(None)
        _, snapshot, _ = self._page(rctx)
        return core.entries.assets(snapshot, name, self._url(rctx))

    def add_links(self, response: Response) -> Response:
        """Add the ``Link`` preload header of what the request's ``entry_tags`` emitted."""
        rctx = request_context_var.get(None)
        groups: list[tuple[str, ...]] | None = (
            rctx.__dict__.get(self.links_key) if rctx is not None else None
        )
        if groups and self.state.core.config.preload_headers:
            kept = cap_links(value for group in groups for value in group)
            if kept:
                response.headers.add("Link", ", ".join(kept))
        return response


def _current() -> QuartEntries:
    ctx = _cv_app.get(None)
    state: AppState | None = ctx.app.extensions.get(STATE_KEY) if ctx is not None else None
    if state is None:
        raise UsageError(
            "entry_tags() and entry_assets() need an app context of an app set up with "
            "CDN(app) or cdn.init_app(app)"
        )
    return state.entries


def entry_tags(*names: str, **attrs: Any) -> Markup:
    """The tags that load front-end entries from the manifest in force (also installed as
    ``entry_tags`` in the app's Jinja globals).

    For a Vite entry: a ``<link rel="stylesheet">`` for the CSS of the entry and of every
    chunk it imports (followed recursively), a ``<link rel="modulepreload">`` for each of
    those chunks and the entry's ``<script type="module">``; for a webpack or Encore
    entrypoint, its CSS and its scripts in order (``<script defer>``). Each file once, CSS
    first, every URL what ``url_for('static', filename=...)`` gives, with ``integrity`` and
    ``crossorigin`` where the manifest has a hash. With ``CDN_DEV_SERVER``, the dev server's
    client (once per page) and each entry from the dev server. The files are remembered on
    the request for its ``Link`` preload header (``CDN_PRELOAD_HEADERS``).

    Args:
        names: entry names: Vite manifest keys (``src/main.ts``, ``index.html``) or
            entrypoint names (``main``).
        attrs: attributes for every tag (``nonce=...``, ``**{"data-x": "y"}``): ``True``
            bare, ``False``/``None`` left out, other values HTML-escaped; ``crossorigin``
            replaces ``CDN_CROSSORIGIN`` for this call.

    Raises:
        NotInManifestError: strict mode and an entry is not in the manifest.
        ManifestNotLoadedError: strict mode and no manifest has been loaded yet.
        UsageError: neither ``CDN_MANIFEST`` nor ``CDN_DEV_SERVER`` is set, or no app.

    Example::

        {{ entry_tags('src/main.ts', nonce=csp_nonce) }}
    """
    return _current().template_global(*names, **attrs)


def entry_assets(name: str) -> EntryAssets:
    """The files of entry ``name`` (see :func:`entry_tags`) as data: ``.scripts``,
    ``.styles`` and ``.preloads``, each a tuple of ``Asset(url, integrity)``, and
    ``.module`` (``False`` for a webpack entrypoint's classic scripts).

    Example::

        assets = entry_assets("src/main.ts")
        css_urls = [asset.url for asset in assets.styles]
    """
    return _current().assets(name)
