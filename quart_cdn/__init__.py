"""quart-cdn: serve a Quart (or Starlette) app's static files from a CDN.

``url_for('static', filename=...)`` gives ``https://<CDN_DOMAIN>/static/...`` with a
cache-busting version: the file's modification time, or a checksum or hashed name from a
manifest that is loaded asynchronously and reloaded in the background.
"""

from __future__ import annotations

__version__ = "0.1.0"

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
)
from .extension import CDN, url_for

__all__ = [
    "CDN",
    "CDNError",
    "CDNFileNotFoundInManifest",
    "CDNManifestUrlError",
    "FileManifestSource",
    "Manifest",
    "ManifestError",
    "ManifestLoadError",
    "ManifestNotLoadedError",
    "ManifestParseError",
    "ManifestSource",
    "NotInManifestError",
    "UrlManifestSource",
    "__version__",
    "parse_manifest",
    "url_for",
]
