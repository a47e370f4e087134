"""One app's entries: from a snapshot's manifest to rendered tags, assets and dev tags.

Both adapters hold one :class:`Entries` (in their :class:`~quart_cdn._core.CDNCore`) and
give it the snapshot their request is pinned to, a dict for that snapshot's scheme and root
path, and a function that builds one static file's URL the way their ``url_for`` does. So an
entry's URLs are exactly ``url_for('static', filename=...)``'s, one page's tags all come
from one manifest, and a warm call is one dict lookup.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Final

from markupsafe import Markup, escape

from .._cache import Snapshot
from .._config import CDNConfig
from .._versioning import Versioner
from ..exceptions import ManifestNotLoadedError, NotInManifestError, UsageError
from .resolve import Resolution, merge, resolve
from .tags import CLASSIC, MODULE, PRELOAD, STYLE, Asset, EntryAssets, Rendered, Tag, render_attrs

__all__ = ["Entries", "react_preamble"]

#: Where Vite's dev server serves its client and React Refresh's runtime, below its base.
VITE_CLIENT: Final = "@vite/client"
REACT_REFRESH: Final = "@react-refresh"
#: Entry names end up in URLs and cache keys; a template gives them, but bound them anyway.
MAX_ENTRY_NAMES: Final = 32


def react_preamble(dev_server: str) -> str:
    """The inline module that React Refresh needs before any component (as
    ``@vitejs/plugin-react`` documents it for backend integrations)."""
    return (
        f"import RefreshRuntime from '{dev_server}/{REACT_REFRESH}'\n"
        "RefreshRuntime.injectIntoGlobalHook(window)\n"
        "window.$RefreshReg$ = () => {}\n"
        "window.$RefreshSig$ = () => (type) => type\n"
        "window.__vite_plugin_react_preamble_installed__ = true\n"
    )


class Entries:
    """Entry resolution and rendering for one app.

    Args:
        config: the validated settings.
        versioner: the app's versioner, whose ``warn_once`` the warnings go through.
        key: turns a setting's name into what the user wrote, for messages.
    """

    def __init__(self, config: CDNConfig, versioner: Versioner, key: Callable[[str], str]) -> None:
        self.config = config
        self.versioner = versioner
        self.key = key

    # -- from the manifest ----------------------------------------------------------------

    def _resolution(self, snapshot: Snapshot, names: Sequence[str]) -> Resolution | None:
        """The merged files of ``names``; ``None`` when there is no manifest yet (not
        strict; nothing then is cached)."""
        config = self.config
        if not config.manifest:
            raise UsageError(
                f"entry_tags() and entry_assets() read the entries of a bundler's manifest: "
                f"turn {self.key('manifest')} on (with a Vite or webpack-assets/Encore "
                f"manifest), or set {self.key('dev_server')} in development"
            )
        if not names or len(names) > MAX_ENTRY_NAMES:
            raise TypeError(f"Give 1 to {MAX_ENTRY_NAMES} entry names, not {len(names)}")
        manifest = snapshot.manifest
        if manifest is None:
            if config.manifest_strict:
                raise ManifestNotLoadedError(
                    f"No manifest has been loaded yet from {config.manifest_url!r}, so entry "
                    f"{names[0]!r} cannot be resolved; start the app (before_serving / "
                    "lifespan) or await cdn.refresh() first",
                    source=config.manifest_url,
                )
            self.versioner.warn_once(
                ("entries-unloaded",),
                "No manifest loaded yet; entry_tags() gives no tags until one is",
            )
            return None
        graph = manifest.entries
        found = []
        for name in names:
            if type(name) is not str:
                raise TypeError(f"An entry name must be a string, not {name!r}")
            resolution = snapshot.resolutions.get(name)
            if resolution is None:
                resolution = resolve(graph, name)
                if resolution is None:
                    self._unknown(name, bool(graph), manifest.format, manifest.source)
                    continue
                snapshot.keep(snapshot.resolutions, name, resolution)
            found.append(resolution)
        return merge(found)

    def _unknown(self, name: str, has_entries: bool, format: str, source: str | None) -> None:
        if has_entries:
            hint = "check the name against the manifest's keys (Vite) or entrypoints"
        else:
            hint = (
                f"this {format} manifest defines no entries; entries come from a Vite "
                "manifest or from 'entrypoints' (webpack-assets-manifest, Encore)"
            )
        if self.config.manifest_strict:
            error = NotInManifestError(name)
            error.args = (f"{name} not found in manifest {source!r}: {hint}",)
            raise error
        self.versioner.warn_once(
            ("entry", name),
            "Entry %r not found in manifest %r (%s); no tags for it",
            name,
            source,
            hint,
        )

    def rendered(
        self,
        snapshot: Snapshot,
        names: tuple[str, ...],
        cache: dict[tuple[str, ...], Rendered] | None,
        url: Callable[[str], str],
    ) -> Rendered:
        """The tags of ``names`` from ``snapshot``, built with ``url`` (a static file name
        to its URL) and kept in ``cache`` (the snapshot's dict for one scheme and root)."""
        if cache is not None:
            try:
                found = cache.get(names)
            except TypeError:  # an unhashable name: _resolution says what is wrong
                found = None
            if found is not None:
                return found
        resolution = self._resolution(snapshot, names)
        if resolution is None:
            return Rendered((), self.config.crossorigin)
        tags = [Tag(STYLE, url(f), i) for f, i in resolution.styles]
        tags += [Tag(PRELOAD, url(f), i) for f, i in resolution.preloads]
        tags += [Tag(MODULE, url(f), i) for f, i in resolution.scripts]
        tags += [Tag(CLASSIC, url(f), i) for f, i in resolution.classic]
        rendered = Rendered(tags, self.config.crossorigin)
        if cache is not None:
            snapshot.keep(cache, names, rendered)
        return rendered

    def assets(self, snapshot: Snapshot, name: str, url: Callable[[str], str]) -> EntryAssets:
        """The files of entry ``name`` as :class:`EntryAssets` (URLs built with ``url``)."""
        resolution = self._resolution(snapshot, (name,))
        if resolution is None:
            return EntryAssets()
        return EntryAssets(
            scripts=tuple(Asset(url(f), i) for f, i in resolution.scripts + resolution.classic),
            styles=tuple(Asset(url(f), i) for f, i in resolution.styles),
            preloads=tuple(Asset(url(f), i) for f, i in resolution.preloads),
            module=not resolution.classic,
        )

    # -- from the dev server --------------------------------------------------------------

    def dev_tags(self, names: Sequence[str], attrs: Mapping[str, object], *, first: bool) -> Markup:
        """The dev server's tags: React Refresh's preamble and Vite's client when ``first``
        (the page's first call), then each entry from the dev server."""
        dev = self.config.dev_server
        assert dev is not None
        extra = render_attrs(attrs)
        out = []
        if first:
            if self.config.dev_server_react:
                out.append(f'<script type="module"{extra}>{react_preamble(dev)}</script>')
            out.append(f'<script type="module" src="{escape(dev)}/{VITE_CLIENT}"{extra}></script>')
        for name in names:
            if type(name) is not str:
                raise TypeError(f"An entry name must be a string, not {name!r}")
            src = escape(f"{dev}/{name.lstrip('/')}")
            if name.lower().endswith(".css"):
                out.append(f'<link rel="stylesheet" href="{src}"{extra}>')
            else:
                out.append(f'<script type="module" src="{src}"{extra}></script>')
        return Markup("\n".join(out))

    def dev_assets(self, name: str) -> EntryAssets:
        """The dev server's URL of entry ``name``, as :class:`EntryAssets`."""
        url = f"{self.config.dev_server}/{name.lstrip('/')}"
        if name.lower().endswith(".css"):
            return EntryAssets(styles=(Asset(url),))
        return EntryAssets(scripts=(Asset(url),))
