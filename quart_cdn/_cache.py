"""The URL cache: snapshots of a manifest with the URLs built from it, and the cache key.

A :class:`Snapshot` holds one manifest (or ``None``) and the finished URLs built from it. A
new manifest brings a new snapshot, swapped in by one assignment, so a reader that took a
snapshot sees one manifest and the URLs made from it, never a mix. :func:`cache_key` is the
one rule for what a URL depends on, used by both adapters.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TYPE_CHECKING, Any, Final, TypeVar

from ._manifest import Manifest

if TYPE_CHECKING:
    from ._entries.resolve import Resolution
    from ._entries.tags import Rendered

_K = TypeVar("_K")
_V = TypeVar("_V")

__all__ = [
    "MAX_CACHED_ENTRIES",
    "MAX_CACHED_URLS",
    "MAX_VIEWS",
    "Snapshot",
    "cache_key",
    "values_key",
]

#: Caps that keep hostile or runaway input (user-chosen file names) from growing memory.
MAX_CACHED_URLS: Final = 50_000
MAX_CACHED_ENTRIES: Final = 10_000
MAX_VIEWS: Final = 100

#: Value types whose equal values build equal URLs once the type is in the key.
_KEYABLE: Final = frozenset({str, int, float, bool, type(None)})


class Snapshot:
    """A manifest (or ``None``) and the URLs already built from it.

    ``cache`` takes any key that holds everything a URL depends on. A view holds the URLs
    of one scheme and root path by ``(endpoint, filename)`` alone: a smaller key for the
    Quart adapter's hot path, whose request pins its scheme and root path to a view.
    """

    __slots__ = ("cache", "entry_views", "kept", "manifest", "resolutions", "stored", "views")

    def __init__(self, manifest: Manifest | None) -> None:
        self.manifest = manifest
        self.cache: dict[Hashable, str] = {}
        self.views: dict[tuple[str, str], dict[Hashable, str]] = {}
        self.stored = 0
        #: Entries: each name's files, and rendered tags by names, per scheme and root.
        self.resolutions: dict[str, Resolution] = {}
        self.entry_views: dict[tuple[str, str], dict[tuple[str, ...], Rendered]] = {}
        self.kept = 0

    def entry_view(self, scheme: str, root: str) -> dict[tuple[str, ...], Rendered]:
        """The rendered entry tags of ``scheme`` and ``root`` (past MAX_VIEWS, not kept)."""
        view = self.entry_views.get((scheme, root))
        if view is None:
            view = {}
            if len(self.entry_views) < MAX_VIEWS:
                view = self.entry_views.setdefault((scheme, root), view)
        return view

    def keep(self, cache: dict[_K, _V], key: _K, value: _V) -> None:
        """Keep ``value`` in one of the entry caches, up to MAX_CACHED_ENTRIES in all."""
        if self.kept < MAX_CACHED_ENTRIES:
            self.kept += 1
            cache[key] = value

    def view(self, scheme: str, root: str) -> dict[Hashable, str]:
        """The view of ``scheme`` and ``root``; past MAX_VIEWS, a new one that is not kept."""
        view = self.views.get((scheme, root))
        if view is None:
            view = {}
            if len(self.views) < MAX_VIEWS:  # root paths can come from request headers
                view = self.views.setdefault((scheme, root), view)
        return view

    def store(self, key: Hashable, url: str, view: dict[Hashable, str] | None = None) -> None:
        """Keep ``url`` under ``key`` in ``cache`` (or in ``view``), up to MAX_CACHED_URLS."""
        if self.stored < MAX_CACHED_URLS:
            self.stored += 1
            (self.cache if view is None else view)[key] = url


def values_key(values: Mapping[str, Any]) -> tuple[tuple[str, type, Any], ...] | None:
    """The part of a URL cache key for a call's values, or ``None`` for "do not cache".

    Equal values of other types build other URLs (``x=0`` gives ``x=0``, ``x=False`` gives
    ``x=False``, yet ``0 == False``), so each value's type is in the key; a container could
    hide such a pair, so calls with one are not cached.
    """
    items = []
    for name, value in sorted(values.items()):
        kind = type(value)
        if kind not in _KEYABLE:
            return None
        items.append((name, kind, value))
    return tuple(items)


def cache_key(
    endpoint: str, values: Mapping[str, Any], file_param: str, *context: Hashable
) -> Hashable | None:
    """The key of a URL in :attr:`Snapshot.cache`, or ``None`` for "do not cache".

    ``context`` is what else the URL depends on (scheme, root path, router). The common
    call, only a ``str`` file name, is keyed by that name alone (``1`` and ``True`` are equal
    keys but other URLs, so only ``str`` takes this short form).
    """
    filename = values.get(file_param)
    if len(values) == 1 and type(filename) is str:
        return (endpoint, filename, *context)
    items = values_key(values)
    return None if items is None else (endpoint, *context, items)
