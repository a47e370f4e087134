"""The errors quart-cdn raises.

The hierarchy::

    CDNError
    ├── ManifestError                  (alias: CDNManifestUrlError)
    │   ├── ManifestLoadError          the source could not be read (network, HTTP status, file)
    │   ├── ManifestParseError         the content matches no manifest format
    │   └── ManifestNotLoadedError     a URL was asked for before any manifest was loaded
    ├── NotInManifestError             (alias: CDNFileNotFoundInManifest) strict mode only
    └── UsageError                     a call that cannot work as made (also a RuntimeError)

Configuration mistakes raise the built-in ``ValueError`` with the offending key in the message.
Every :class:`ManifestError` carries the manifest's location in ``.source`` (``None`` when
there is none), and the foreign error behind it, if any, as ``__cause__``.
"""

from __future__ import annotations

__all__ = [
    "CDNError",
    "CDNFileNotFoundInManifest",
    "CDNManifestUrlError",
    "ManifestError",
    "ManifestLoadError",
    "ManifestNotLoadedError",
    "ManifestParseError",
    "NotInManifestError",
    "UsageError",
]


class CDNError(Exception):
    """Base class of every error quart-cdn raises on purpose."""


class ManifestError(CDNError):
    """A manifest could not be loaded or used.

    Args:
        message: one sentence naming the source and the cause.
        source: the manifest's location (URL or path), if there is one.
    """

    def __init__(self, message: str, *, source: str | None = None) -> None:
        super().__init__(message)
        self.source = source


class ManifestLoadError(ManifestError):
    """The manifest's source could not be read (network error, HTTP status, missing file...)."""


class ManifestParseError(ManifestError):
    """The manifest was read but its content is empty or matches no known format.

    ``line`` is the 1-based number of the first bad line for checksum manifests, else ``None``.
    """

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None) -> None:
        super().__init__(message, source=source)
        self.line = line


class ManifestNotLoadedError(ManifestError):
    """A versioned URL was asked for before any manifest was loaded (strict mode)."""


class NotInManifestError(CDNError, LookupError):
    """Strict mode: the file asked for is not in the manifest in force.

    ``path`` is the manifest key that was looked up; the message is ``"<path> not found in
    manifest"``, as Flask-CDN-NG words it.
    """

    def __init__(self, path: str) -> None:
        super().__init__(f"{path} not found in manifest")
        self.path = path


class UsageError(CDNError, RuntimeError):
    """quart-cdn was used in a way that cannot work: ``cdn.refresh()`` with no app to
    refresh for or with the manifest off, ``init_app`` while the app is serving, a
    refresher started twice. The message says what to do instead."""


#: Flask-CDN-NG's name for :class:`ManifestError`.
CDNManifestUrlError = ManifestError
#: Flask-CDN-NG's name for :class:`NotInManifestError`.
CDNFileNotFoundInManifest = NotInManifestError
