"""The URL cache: snapshots of a manifest with the URLs built from it, and the cache key.

A :class:`Snapshot` holds one manifest (or ``None``) and the finished URLs built from it. A
new manifest brings a new snapshot, swapped in by one assignment, so a reader that took a
snapshot sees one manifest and the URLs made from it, never a mix. :func:`cache_key` is the
one rule for what a URL depends on, used by both adapters.

Every cache that user-chosen names can grow (a snapshot's URLs, the mtimes and warnings of
:mod:`quart_cdn._versioning`) is bounded by a :class:`Budget` of estimated bytes, the one
home of that rule.
"""

from __future__ import annotations

import sys
from collections.abc import Hashable, Mapping
from typing import TYPE_CHECKING, Any, Final, TypeVar

from ._manifest import Manifest

if TYPE_CHECKING:
    from ._entries.resolve import Resolution
    from ._entries.tags import Rendered

_K = TypeVar("_K")
_V = TypeVar("_V")

__all__ = [
    "ENTRY_BYTES",
    "MAX_CACHED_ENTRIES",
    "MAX_CACHE_BYTES",
    "MAX_VIEWS",
    "Budget",
    "Snapshot",
    "cache_key",
    "estimate",
    "values_key",
]

#: Estimated bytes that one cache may hold: a snapshot's URLs (all its views together), the
#: mtimes, the warnings. A typical entry (a 30-character name, its 90-character URL) costs
#: about 400, so this is room for about 40,000 of them.
MAX_CACHE_BYTES: Final = 16 * 1024 * 1024
#: What an entry costs besides its strings and tuples: its dict or set slot, with slack.
ENTRY_BYTES: Final = 100
#: Views (scheme and root path pairs) per snapshot; root paths can come from request headers.
MAX_VIEWS: Final = 100
#: Entry resolutions and rendered tags kept per snapshot (entry names come from templates).
MAX_CACHED_ENTRIES: Final = 10_000

#: Value types whose equal values build equal URLs once the type is in the key.
_KEYABLE: Final = frozenset({str, int, float, bool, type(None)})


def estimate(value: object) -> int:
    """The rough size in bytes of a cache key or value: strings and bytes as they are
    stored, tuples with their items; anything else (numbers, types) a small constant."""
    if isinstance(value, (str, bytes)):
        return sys.getsizeof(value)
    if isinstance(value, tuple):
        return sys.getsizeof(value) + sum(map(estimate, value))
    return 32


class Budget:
    """An allowance of estimated bytes for one cache: entries are added while it lasts, then
    no more.

    Why not evict: the entries made first are the app's own (its pages warm them), a flood
    of hostile names cannot push them out, nothing is rebuilt over and over, and a lookup
    stays one dict access. What a full cache costs is that a new name is built (or stat'ed)
    on each of its calls; a snapshot's budget starts afresh with each new manifest.
    """

    __slots__ = ("limit", "used")

    def __init__(self, limit: int = MAX_CACHE_BYTES) -> None:
        self.limit = limit
        self.used = 0

    def take(self, *parts: object) -> bool:
        """Charge an entry made of ``parts`` (key, value); ``False``: no room, don't add it."""
        if self.used >= self.limit:
            return False
        cost = ENTRY_BYTES + sum(map(estimate, parts))
        if self.used + cost > self.limit:
            return False
        self.used += cost
        return True


class Snapshot:
    """A manifest (or ``None``) and the URLs already built from it.

    ``cache`` takes any key that holds everything a URL depends on. A view holds the URLs
    of one scheme and root path by ``(endpoint, filename)`` alone: a smaller key for the
    Quart adapter's hot path, whose request pins its scheme and root path to a view. The
    cache and the views share one :class:`Budget` of ``max_bytes``.
    """

    __slots__ = (
        "budget",
        "cache",
        "entry_views",
        "kept",
        "manifest",
        "resolutions",
        "views",
    )

    def __init__(self, manifest: Manifest | None, *, max_bytes: int = MAX_CACHE_BYTES) -> None:
        self.manifest = manifest
        self.cache: dict[Hashable, str] = {}
        self.views: dict[tuple[str, str], dict[Hashable, str]] = {}
        self.budget = Budget(max_bytes)
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
        """The view of ``scheme`` and ``root``; past MAX_VIEWS or the budget, a new one that
        is not kept."""
        view = self.views.get((scheme, root))
        if view is None:
            view = {}
            if len(self.views) < MAX_VIEWS and self.budget.take(scheme, root):
                view = self.views.setdefault((scheme, root), view)
        return view

    def store(self, key: Hashable, url: str, view: dict[Hashable, str] | None = None) -> None:
        """Keep ``url`` under ``key`` in ``cache`` (or in ``view``) while the budget lasts."""
        if self.budget.take(key, url):
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
