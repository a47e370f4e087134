"""The Starlette side of front-end entries: ``StarletteCDN.entry_tags``,
``StarletteCDN.entry_assets`` and the ``Link`` preload header of ``TemplateResponse``.

A mixin of :class:`~quart_cdn.starlette.StarletteCDN`: it gives the shared
:class:`~quart_cdn._entries.builder.Entries` the request's pinned snapshot (the manifest its
``url_for`` URLs come from), the URL of a static file as the installed ``url_for`` builds it,
and the request's scope to keep what its tags emitted.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from .._cache import Snapshot
from .._core import CDNCore
from .._entries.tags import EntryAssets, Rendered, cap_links
from ..exceptions import UsageError

__all__ = ["StarletteEntries"]


class StarletteEntries:
    """Entries for :class:`~quart_cdn.starlette.StarletteCDN` (see the module docstring)."""

    core: CDNCore
    _routers: dict[int, object]
    _links_key: str
    _dev_key: str

    def _pinned(self, request: Request | None) -> tuple[Snapshot, str, str]:
        raise NotImplementedError  # StarletteCDN's

    def _url_for(self, request: Request | None, name: str, params: dict[str, Any]) -> str | None:
        raise NotImplementedError  # StarletteCDN's

    def _wrap_template_response(self, templates: Jinja2Templates) -> None:
        template_response = templates.TemplateResponse
        if getattr(template_response, "_quart_cdn", None) is self:
            return  # installed twice

        @functools.wraps(template_response)
        def wrapped(*args: Any, **kwargs: Any) -> Response:
            response = template_response(*args, **kwargs)
            request = kwargs.get("request", args[0] if args else None)
            if isinstance(request, Request):
                self.add_links(request, response)
            return response

        wrapped._quart_cdn = self  # type: ignore[attr-defined]
        templates.TemplateResponse = wrapped  # type: ignore[method-assign,assignment]

    # -- entries --------------------------------------------------------------------------

    def entry_tags(self, request: Request | None, /, *names: str, **attrs: Any) -> Markup:
        """The tags that load front-end entries (the template global ``entry_tags`` calls
        it with the template's request).

        As Quart's :func:`quart_cdn.entry_tags`: stylesheets, modulepreloads and the entry
        scripts from the manifest in force (the one the request is pinned to), each URL
        what ``url_for('static', path=...)`` gives, ``integrity``/``crossorigin`` where the
        manifest has a hash, ``attrs`` on every tag; with ``dev_server``, the dev server's
        client once per request and each entry from it. The files are remembered on the
        request for the ``Link`` header that ``TemplateResponse`` adds.

        Args:
            request: the request the page is for (``None``: outside a request).
            names: Vite manifest keys or webpack/Encore entrypoint names.
            attrs: attributes for every tag (``nonce=...``); ``crossorigin`` replaces the
                setting for this call.

        Raises:
            NotInManifestError: strict mode and an entry is not in the manifest.
            ManifestNotLoadedError: strict mode and no manifest has been loaded yet.
        """
        core = self.core
        scope = request.scope if request is not None else None
        if core.config.dev_server:
            first = scope is None or not scope.get(self._dev_key)
            if scope is not None:
                scope[self._dev_key] = True
            return core.entries.dev_tags(names, attrs, first=first)
        snapshot, cache, url = self._entry_context(request)
        rendered, rest = core.entries.rendered(snapshot, names, cache, url).adjust(attrs)
        if scope is not None and core.config.preload_headers and rendered.links:
            scope.setdefault(self._links_key, []).append(rendered.links)
        return rendered.markup(rest)

    def entry_assets(self, request: Request | None, name: str) -> EntryAssets:
        """The files of entry ``name`` as data (``.scripts``, ``.styles``, ``.preloads``,
        each a tuple of ``Asset(url, integrity)``, and ``.module``).

        Example::

            assets = cdn.entry_assets(request, "src/main.ts")
        """
        core = self.core
        if core.config.dev_server:
            return core.entries.dev_assets(name)
        snapshot, _, url = self._entry_context(request)
        return core.entries.assets(snapshot, name, url)

    def add_links(self, request: Request, response: Response) -> None:
        """Add the ``Link`` preload header for what ``entry_tags`` emitted for ``request``
        (done for you by the installed templates' ``TemplateResponse``)."""
        groups: list[tuple[str, ...]] | None = request.scope.get(self._links_key)
        if groups and self.core.config.preload_headers:
            kept = cap_links(value for group in groups for value in group)
            if kept:
                response.headers.append("Link", ", ".join(kept))

    def _entry_context(
        self, request: Request | None
    ) -> tuple[Snapshot, dict[tuple[str, ...], Rendered] | None, Callable[[str], str]]:
        snapshot, scheme, root = self._pinned(request)
        cache = None
        if request is not None:
            provider = request.scope.get("router") or request.scope.get("app")
            cache = snapshot.entry_view(scheme, f"{root} {id(provider)}")
            self._routers.setdefault(id(provider), provider)
        active = self.core.config.active

        def url(filename: str) -> str:
            if active:
                built = self._url_for(request, "static", {"path": filename})
                if built is not None:
                    return built
            if request is None:
                raise UsageError(
                    "entry_tags() outside a request needs the CDN on (domain=) and the app "
                    "started (lifespan=cdn.lifespan)"
                )
            return str(request.url_for("static", path=filename))

        return snapshot, cache, url
