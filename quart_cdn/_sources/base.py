"""The base of every manifest source: one async :meth:`ManifestSource.load`, plus lifecycle.

A source remembers what it loaded last. When the manifest has not changed (the same file,
an HTTP ``304 Not Modified``, the same S3 ETag) ``load()`` returns the very same
:class:`~quart_cdn._manifest.Manifest` object, without reading or parsing it again, and the
caller can tell by identity that nothing changed.

Every failure is a :class:`~quart_cdn.exceptions.ManifestLoadError` (or
:class:`~quart_cdn.exceptions.ManifestParseError`) whose message names the source and the
cause; foreign errors are chained with ``raise ... from``.
"""

from __future__ import annotations

from .._config import DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT
from .._manifest import Manifest
from ..exceptions import ManifestLoadError

__all__ = ["ManifestSource"]


class ManifestSource:
    """Base class of manifest sources: one async :meth:`load`, plus optional lifecycle.

    A subclass implements :meth:`load`, and :meth:`open`/:meth:`aclose` when it holds
    long-lived resources. To be chosen by a URL scheme, it also implements
    :meth:`from_location` and gets one line in :data:`quart_cdn._sources.SCHEMES`; to be
    used directly, pass an instance as ``CDN(app, source=...)`` or
    ``StarletteCDN(source=...)``.

    Attributes:
        location: the human-readable place (URL or path) quoted in every message.
        max_bytes: the largest manifest accepted.
        setting: the setting quoted in hints (``manifest_url=`` for Starlette).
        max_bytes_setting: the setting that gave ``max_bytes``.
        cdn: the CDN (``CDN_DOMAIN``, lower case), set by the adapter: a file that a
            manifest writes as a URL on it (a bundler's public path) is read as its path.

    Example::

        class DictSource(ManifestSource):
            location = "memory"

            async def load(self) -> Manifest:
                return Manifest({"js/app.js": "js/app.1a2b.js"}, kind="mapping")
    """

    location: str = "<manifest source>"
    max_bytes: int = DEFAULT_MAX_BYTES
    timeout: float = DEFAULT_TIMEOUT
    setting: str = "CDN_MANIFEST_URL"
    max_bytes_setting: str = "CDN_MANIFEST_MAX_BYTES"
    cdn: str | None = None

    @classmethod
    def from_location(
        cls, location: str, *, timeout: float, max_bytes: int, setting: str
    ) -> ManifestSource:
        """The source for ``location`` (a URL of this source's scheme).

        Raises:
            ValueError: ``location`` is not a valid URL for this source; the message starts
                with ``setting`` and the quoted location.
        """
        raise NotImplementedError(f"{cls.__name__}.from_location() must be implemented")

    async def open(self) -> None:
        """Acquire long-lived resources (an HTTP connection pool) for repeated loads."""

    async def load(self) -> Manifest:
        """Load the manifest; return the previous object itself when it has not changed."""
        raise NotImplementedError(f"{type(self).__name__}.load() must be implemented")

    async def aclose(self) -> None:
        """Release what :meth:`open` acquired; loading afterwards still works."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.location!r}>"

    def _fail(self, cause: str) -> ManifestLoadError:
        """A load error: ``Manifest '<location>' <cause>; check <setting>``."""
        return ManifestLoadError(
            f"Manifest {self.location!r} {cause}; check {self.setting}", source=self.location
        )

    def _too_big(self) -> ManifestLoadError:
        return ManifestLoadError(
            f"Manifest {self.location!r} is larger than the {self.max_bytes}-byte cap "
            f"({self.max_bytes_setting}); refusing to load it",
            source=self.location,
        )
