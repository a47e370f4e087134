"""quart-cdn: serve a Quart (or Starlette) app's static files from a CDN.

``url_for('static', filename=...)`` gives ``https://<CDN_DOMAIN>/static/...`` with a
cache-busting version: the file's modification time, or a checksum or hashed name from a
manifest that is loaded asynchronously and reloaded in the background.

The Quart names (:class:`CDN`, :func:`url_for`) are imported on first use, so that
``import quart_cdn.starlette`` does not import Quart.
"""

from __future__ import annotations

import typing as _typing

from .__version__ import __version__
from ._entries.tags import Asset, EntryAssets
from ._manifest import Manifest, parse_manifest
from ._sources import FileManifestSource, ManifestSource, UrlManifestSource
from .exceptions import (
    CDNError,
    CDNFileNotFoundInManifest,
    CDNManifestUrlError,
    ManifestError,
    ManifestLoadError,
    ManifestNotLoadedError,
    ManifestParseError,
    NotInManifestError,
    UsageError,
)

if _typing.TYPE_CHECKING:
    from .extension import CDN, entry_assets, entry_tags, url_for

__all__ = [
    "Asset",
    "CDN",
    "CDNError",
    "CDNFileNotFoundInManifest",
    "CDNManifestUrlError",
    "EntryAssets",
    "FileManifestSource",
    "Manifest",
    "ManifestError",
    "ManifestLoadError",
    "ManifestNotLoadedError",
    "ManifestParseError",
    "ManifestSource",
    "NotInManifestError",
    "UrlManifestSource",
    "UsageError",
    "__version__",
    "entry_assets",
    "entry_tags",
    "parse_manifest",
    "url_for",
]

#: Names that live in the Quart extension, imported when first asked for.
_QUART_NAMES = frozenset({"CDN", "entry_assets", "entry_tags", "url_for"})


def __getattr__(name: str) -> _typing.Any:
    if name in _QUART_NAMES:
        from . import extension

        value = getattr(extension, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'quart_cdn' has no attribute {name!r}")
